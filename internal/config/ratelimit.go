package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RateLimit is "<max>/<window>", e.g. "10/15m": at most max attempts per window.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// Decode implements envconfig.Decoder.
func (l *RateLimit) Decode(value string) error {
	n, w, ok := strings.Cut(strings.TrimSpace(value), "/")
	max, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil {
		return fmt.Errorf("invalid rate limit %q", value)
	}
	window, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil {
		return fmt.Errorf("invalid rate limit %q", value)
	}
	*l = RateLimit{Max: max, Window: window}
	return nil
}

func (l RateLimit) String() string { return strconv.Itoa(l.Max) + "/" + short(l.Window) }
