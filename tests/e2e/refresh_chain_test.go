package e2e

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// Issue 12, attack 4: a stolen refresh token replayed within the grace window got a
// chain of its own — a second live branch of the session, never detected as reuse,
// absent from the sessions list. Now a session has one live refresh token: the replay
// gets the successor the owner already holds, so thief and owner share one chain, and
// whichever is left behind is caught as reuse once the window has passed.
func TestRefreshReplayInTheGraceWindowDoesNotFork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner, o := e.register(t, "chain-owner", "Chain Org")
	orgPath := "/v1/orgs/" + o.ID
	liveTokens := func(t *testing.T, sessionID string) int {
		t.Helper()
		return e.count(t, `select count(*)::int from auth.refresh_tokens where session_id = $1 and rotated_at is null`, sessionID)
	}

	t.Run("the replay gets the successor already issued, never a second branch", func(t *testing.T) {
		s := e.login(t, owner)
		stolen := s.RefreshToken
		mine := e.refreshed(t, e.refresh(t, s.RefreshToken)) // the owner refreshes
		theirs := e.refreshed(t, e.refresh(t, stolen))       // the thief replays, within the window
		if theirs.RefreshToken != mine.RefreshToken {
			t.Fatal("the replay got a refresh token of its own: the session's chain forked")
		}
		if theirs.AccessToken == "" {
			t.Fatal("the replay got no access token")
		}
		c, err := e.tokens.Verify(theirs.AccessToken)
		if err != nil || c.SessionID != s.SessionID {
			t.Fatalf("the replay's access token names session %q (%v), want %s", c.SessionID, err, s.SessionID)
		}
		if n := liveTokens(t, s.SessionID); n != 1 {
			t.Fatalf("the session has %d live refresh tokens, want 1", n)
		}
		// The sessions list shows the one chain the session has: nothing hides.
		var listed int
		for _, l := range e.sessions(t, s) {
			if l.ID == s.SessionID {
				listed++
			}
		}
		if listed != 1 {
			t.Errorf("the session is listed %d times", listed)
		}

		// The owner rotates on; the thief's copy is now behind. After the window (newEnv's
		// grace is 10 minutes, for slow machines: rotated_at moves back an hour) its next
		// use is reuse, and the whole session ends, thief and owner alike.
		next := e.refreshed(t, e.refresh(t, mine.RefreshToken))
		e.exec(t, `update auth.refresh_tokens set rotated_at = now() - interval '1 hour' where session_id = $1 and rotated_at is not null`, s.SessionID)
		wantProblem(t, e.refresh(t, theirs.RefreshToken), api.ProblemRefreshTokenReused)
		wantUnauthorized(t, e.do(t, http.MethodGet, orgPath, next.AccessToken, nil))
		wantUnauthorized(t, e.do(t, http.MethodGet, orgPath, theirs.AccessToken, nil))
		wantProblem(t, e.refresh(t, next.RefreshToken), api.ProblemUnauthorized)
	})

	t.Run("a replay after the window revokes the session and hands out nothing", func(t *testing.T) {
		s := e.login(t, owner)
		mine := e.refreshed(t, e.refresh(t, s.RefreshToken))
		e.exec(t, `update auth.refresh_tokens set rotated_at = now() - interval '1 hour' where session_id = $1 and rotated_at is not null`, s.SessionID)
		r := e.refresh(t, s.RefreshToken)
		wantProblem(t, r, api.ProblemRefreshTokenReused)
		if n := e.count(t, `select count(*)::int from auth.sessions where id = $1 and revoked_reason = 'refresh_token_reused'`, s.SessionID); n != 1 {
			t.Fatal("the session was not revoked as reused")
		}
		wantProblem(t, e.refresh(t, mine.RefreshToken), api.ProblemUnauthorized)
		for _, l := range e.sessions(t, owner) {
			if l.ID == s.SessionID {
				t.Error("the revoked session is still listed")
			}
		}
	})

	t.Run("a token two rotations back is reuse even within the window", func(t *testing.T) {
		s := e.login(t, owner)
		a := e.refreshed(t, e.refresh(t, s.RefreshToken))
		e.refreshed(t, e.refresh(t, a.RefreshToken))
		wantProblem(t, e.refresh(t, s.RefreshToken), api.ProblemRefreshTokenReused)
	})

	t.Run("tabs refreshing at once share one successor", func(t *testing.T) {
		s := e.login(t, owner)
		const tabs = 8
		var wg sync.WaitGroup
		got := make([]string, tabs)
		for i := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.send(e.newRequest(t, http.MethodPost, "/v1/auth/refresh", "", map[string]any{"refresh_token": s.RefreshToken}))
				if err != nil {
					t.Error(err)
					return
				}
				if r.Status != http.StatusOK {
					t.Errorf("tab %d: %s", i, r)
					return
				}
				var res authResponse
				r.decode(t, &res)
				got[i] = res.RefreshToken
			}()
		}
		wg.Wait()
		for i := range got {
			if got[i] != got[0] {
				t.Fatalf("tabs got different refresh tokens: %q", got)
			}
		}
		if n := liveTokens(t, s.SessionID); n != 1 {
			t.Fatalf("%d live refresh tokens after %d simultaneous refreshes, want 1", n, tabs)
		}
		e.refreshed(t, e.refresh(t, got[0]))
	})

	t.Run("the successor is stored sealed, useless to a database reader", func(t *testing.T) {
		s := e.login(t, owner)
		mine := e.refreshed(t, e.refresh(t, s.RefreshToken))
		if n := e.count(t, `select count(*)::int from auth.refresh_tokens t
		                     where t.session_id = $1 and t.successor_sealed is not null
		                       and position(convert_to($2, 'UTF8') in t.successor_sealed) = 0
		                       and strpos(t::text, $2) = 0
		                       and strpos(encode(t.successor_sealed, 'base64'), $2) = 0`, s.SessionID, mine.RefreshToken); n != 1 {
			t.Fatal("the successor is not kept, or kept readable")
		}
		// The sealed copy opens only for its own predecessor: moved to another token's
		// row, it hands out nothing.
		other := e.login(t, owner)
		e.refreshed(t, e.refresh(t, other.RefreshToken))
		oldHash := sha256.Sum256([]byte(other.RefreshToken))
		e.exec(t, `update auth.refresh_tokens set successor_sealed = (select successor_sealed from auth.refresh_tokens
		             where session_id = $1 and successor_sealed is not null) where token_hash = $2`, s.SessionID, oldHash[:])
		wantProblem(t, e.refresh(t, other.RefreshToken), api.ProblemUnauthorized)
	})
}
