package password

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cheap keeps the tests fast; DefaultParams are exercised once below.
var cheap = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func mustNew(t *testing.T, p Params) *Hasher {
	t.Helper()
	h, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := mustNew(t, cheap)
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd 🔑", strings.Repeat("x", 1024)} {
		enc, err := h.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := h.Verify(pw, enc)
		if err != nil || !ok {
			t.Fatalf("Verify(%q) = %v, %v; want true", pw, ok, err)
		}
		ok, err = h.Verify(pw+"!", enc)
		if err != nil || ok {
			t.Fatalf("Verify(wrong) = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestHashFormat(t *testing.T) {
	enc, err := Hash("hunter22")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("unexpected encoding %q", enc)
	}
	ok, err := Verify("hunter22", enc)
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if Default().NeedsRehash(enc) {
		t.Fatal("fresh default hash should not need a rehash")
	}
}

func TestSaltsDiffer(t *testing.T) {
	h := mustNew(t, cheap)
	a, _ := h.Hash("same")
	b, _ := h.Hash("same")
	if a == b {
		t.Fatal("two hashes of the same password are equal: salt not random")
	}
}

// A hash made with other parameters still verifies: parameters come from the
// stored string, not from the Hasher.
func TestVerifyUsesStoredParams(t *testing.T) {
	old := mustNew(t, Params{Memory: 32, Iterations: 3, Parallelism: 2, SaltLength: 8, KeyLength: 16})
	enc, _ := old.Hash("pw")
	h := mustNew(t, cheap)
	ok, err := h.Verify("pw", enc)
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if !h.NeedsRehash(enc) {
		t.Fatal("NeedsRehash = false for other params")
	}
	if !h.NeedsRehash("garbage") {
		t.Fatal("NeedsRehash = false for garbage")
	}
}

// Known-answer test: a vector produced by the reference (phc-winner-argon2)
// argon2 CLI: echo -n password | argon2 somesalt -id -t 2 -m 16 -p 4 -l 24
// (m=2^16 KiB). Proves interoperability of the PHC encoding.
func TestReferenceVector(t *testing.T) {
	const enc = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$F1jG2CV3/Nr+yRuIsPKw0J9r4s7cJHBU"
	ok, err := Verify("password", enc)
	if err != nil || !ok {
		t.Fatalf("Verify(reference) = %v, %v", ok, err)
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	h := mustNew(t, cheap)
	good, _ := h.Hash("pw")
	parts := strings.Split(good, "$")
	bad := map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"missing part":   strings.Join(parts[:5], "$"),
		"extra part":     good + "$x",
		"no version":     strings.Replace(good, "v=19", "19", 1),
		"bad params":     strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1", 1),
		"dup param":      strings.Replace(good, "m=64,t=1,p=1", "m=64,m=64,p=1", 1),
		"unknown param":  strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=1,x=1", 1),
		"negative":       strings.Replace(good, "t=1", "t=-1", 1),
		"zero time":      strings.Replace(good, "t=1", "t=0", 1),
		"huge memory":    strings.Replace(good, "m=64", "m=4294967295", 1),
		"huge time":      strings.Replace(good, "t=1", "t=100000", 1),
		"bad salt b64":   strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!!", parts[5]}, "$"),
		"padded salt":    strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4] + "==", parts[5]}, "$"),
		"short key":      strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"short salt":     strings.Join([]string{"", parts[1], parts[2], parts[3], "AAAA", parts[5]}, "$"),
		"leading junk":   "x" + good,
		"no dollar sign": strings.ReplaceAll(good, "$", ""),
	}
	for name, enc := range bad {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify("pw", enc)
			if ok || !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("Verify(%q) = %v, %v; want false, ErrInvalidHash", enc, ok, err)
			}
		})
	}
	ok, err := h.Verify("pw", strings.Replace(good, "v=19", "v=16", 1))
	if ok || !errors.Is(err, ErrIncompatibleVersion) {
		t.Fatalf("v=16: %v, %v", ok, err)
	}
}

func TestNewRejectsBadParams(t *testing.T) {
	for _, p := range []Params{
		{Memory: 64, Iterations: 0, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Iterations: 1, Parallelism: 0, SaltLength: 16, KeyLength: 32},
		{Memory: 4, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 4, KeyLength: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 8},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) succeeded", p)
		}
	}
	if _, err := New(DefaultParams); err != nil {
		t.Fatal(err)
	}
}

// DummyVerify must cost about what a real Verify costs; otherwise an
// attacker could tell unknown emails from wrong passwords by timing.
func TestDummyVerifyTakesAsLongAsVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	h := mustNew(t, Params{Memory: 4096, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	enc, _ := h.Hash("secret")
	h.DummyVerify("warm up") // the first call also computes the dummy hash

	const n = 10
	measure := func(f func()) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range n {
			s := time.Now()
			f()
			if d := time.Since(s); d < best {
				best = d
			}
		}
		return best
	}
	real := measure(func() { _, _ = h.Verify("wrong", enc) })
	dummy := measure(func() { h.DummyVerify("wrong") })
	ratio := float64(dummy) / float64(real)
	if ratio < 0.7 || ratio > 1.4 {
		t.Fatalf("DummyVerify %v vs Verify %v (ratio %.2f): timing oracle", dummy, real, ratio)
	}
}

func BenchmarkDefaultVerify(b *testing.B) {
	enc, _ := Hash("benchmark password")
	for b.Loop() {
		_, _ = Verify("benchmark password", enc)
	}
}
