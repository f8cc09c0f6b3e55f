package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// A request whose slot never comes is told to retry (503); a free slot runs f and is
// given back.
func TestHashSlotsBounded(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	s.hashSlots = newHashSlots(1)
	if err := s.hashSlots.acquire(context.Background(), "other"); err != nil { // the only slot is busy
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ran := false
	err := s.withHashSlot(ctx, func() error { ran = true; return nil })
	var ae *apiError
	if ran || !errors.As(err, &ae) || ae.kind != ProblemUnavailable {
		t.Fatalf("ran=%v err=%v", ran, err)
	}
	s.hashSlots.release("other")
	if err := s.withHashSlot(context.Background(), func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("free slot: ran=%v err=%v", ran, err)
	}
	if n := s.hashSlots.inUse(); n != 0 {
		t.Fatalf("%d slots not released", n)
	}
}

// The attack: one client floods the hashing slots (sign-ups, logins) so that everyone
// else waits. It may hold half of them at most; another client still gets one at once.
func TestHashSlotsOneClientHoldsAtMostHalf(t *testing.T) {
	h := newHashSlots(4)
	for range 2 {
		if err := h.acquire(context.Background(), "flooder"); err != nil {
			t.Fatal(err)
		}
	}
	// The flooder's third hash waits although two slots are free...
	third := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { third <- h.acquire(ctx, "flooder") }()
	// ...and the others are served at once.
	quick, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	for _, c := range []string{"owner", "bystander"} {
		if err := h.acquire(quick, c); err != nil {
			t.Fatalf("%s waited behind the flooder: %v", c, err)
		}
	}
	select {
	case err := <-third:
		t.Fatalf("the flooder got a third slot of four (%v)", err)
	default:
	}
	// When one of its own slots frees, the flooder's waiting hash goes on.
	h.release("flooder")
	select {
	case err := <-third:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flooder's waiting hash never got its slot back")
	}
	if n := h.inUse(); n != 4 {
		t.Fatalf("%d slots in use, want 4", n)
	}
	for _, c := range []string{"flooder", "flooder", "owner", "bystander"} {
		h.release(c)
	}
	if n := h.inUse(); n != 0 || len(h.held) != 0 {
		t.Fatalf("%d slots still in use (%v)", n, h.held)
	}
}

// One slot: a single client may hold it (max(1, n/2)).
func TestHashSlotsSingleSlot(t *testing.T) {
	h := newHashSlots(1)
	if err := h.acquire(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := h.acquire(ctx, "b"); err == nil {
		t.Fatal("a second hash got the only slot")
	}
	h.release("a")
	if err := h.acquire(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
}

// Hash slots are shared by client network: an IPv6 client is its /64, so rotating
// addresses inside it does not buy more slots; IPv4 addresses are their own.
func TestHashSlotsCountTheClientNetwork(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
	} {
		if got := networkKey(networkOf(netip.MustParseAddr(c.addr))); got != c.want {
			t.Errorf("%s counts as %s, want %s", c.addr, got, c.want)
		}
	}
	if got := networkKey(networkOf(netip.Addr{})); got != "unknown" {
		t.Errorf("an unknown address counts as %q", got)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
	r.RemoteAddr = "[2001:db8:9:9:1:2:3:4]:5555"
	if got := clientNetworkParam(r); got != "2001:db8:9:9::/64" {
		t.Errorf("inet parameter %v", got)
	}
}
