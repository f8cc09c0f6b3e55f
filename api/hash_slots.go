package api

import (
	"context"
	"sync"
)

// hashSlots bounds the argon2id hashes running at once (each holds its memory cost,
// 19 MiB by default, for tens of milliseconds) and shares them between clients: one
// client network (an IPv4 address, an IPv6 /64: networkOf) may hold at most half of
// them, so a flood of sign-ups or logins from one client slows that client, not every
// other user's sign-in.
type hashSlots struct {
	mu        sync.Mutex
	free      int
	perClient int            // the most one client may hold
	held      map[string]int // slots held, by client
	// freed is closed (and replaced) whenever a slot is released: waiters look again.
	freed chan struct{}
}

// newHashSlots makes n slots (at least 1); a client may hold max(1, n/2) of them.
func newHashSlots(n int) *hashSlots {
	if n < 1 {
		n = 1
	}
	return &hashSlots{free: n, perClient: max(1, n/2), held: map[string]int{}, freed: make(chan struct{})}
}

// acquire waits until a slot is free and client holds fewer than its share, or ctx
// ends (then its error).
func (h *hashSlots) acquire(ctx context.Context, client string) error {
	for {
		h.mu.Lock()
		if h.free > 0 && h.held[client] < h.perClient {
			h.free--
			h.held[client]++
			h.mu.Unlock()
			return nil
		}
		freed := h.freed
		h.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back a slot client acquired.
func (h *hashSlots) release(client string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.free++
	if h.held[client]--; h.held[client] <= 0 {
		delete(h.held, client)
	}
	close(h.freed)
	h.freed = make(chan struct{})
}

// inUse is the number of slots held (for tests).
func (h *hashSlots) inUse() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.held {
		n += c
	}
	return n
}
