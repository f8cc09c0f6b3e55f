package token

import (
	"sync"
	"time"
)

// verifiedCache remembers access tokens whose signature and claims were verified, so
// a client's next requests with the same token skip jwx's parsing and the Ed25519
// check: about half of the server's own CPU per request (measured with tests/load).
//
// A hit re-checks time (exp, nbf), the only thing that can change for a token already
// verified. Nothing else is cached here: sessions, user status and roles are checked by
// auth.begin_request in SQL on every request, so revocation stays instant.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[string]cachedToken
	max     int
}

type cachedToken struct {
	claims    Claims
	notBefore time.Time
}

// defaultCacheSize bounds memory (a token is well under 1 KiB) while holding every
// token a busy server sees within one access-token lifetime.
const defaultCacheSize = 16384

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{entries: make(map[string]cachedToken, max), max: max}
}

// get returns the claims of raw when it was verified before and is still within its
// validity window (with leeway) at now.
func (c *verifiedCache) get(raw string, now time.Time, leeway time.Duration) (Claims, bool) {
	c.mu.RLock()
	e, ok := c.entries[raw]
	c.mu.RUnlock()
	if !ok {
		return Claims{}, false
	}
	if !now.Before(e.claims.ExpiresAt.Add(leeway)) || now.Add(leeway).Before(e.notBefore) {
		// Out of its window: forget it and let full verification give the reason.
		c.mu.Lock()
		delete(c.entries, raw)
		c.mu.Unlock()
		return Claims{}, false
	}
	return e.claims, true
}

func (c *verifiedCache) put(raw string, claims Claims, notBefore time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Full: evict one entry; map iteration starts at a random place.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[raw] = cachedToken{claims: claims, notBefore: notBefore}
}

// reset forgets everything: the trusted keys changed.
func (c *verifiedCache) reset() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
