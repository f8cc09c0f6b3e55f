package password

import (
	"errors"
	"regexp"
	"strings"
	"testing"
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

// DummyVerify must cost what a real Verify costs, or the login answer for an unknown
// email would be faster than for a wrong password (a timing oracle). argon2id's cost is
// set entirely by its parameters, so the check is structural, not a timed race that a
// loaded CI machine could lose: the dummy derivation uses exactly the hasher's params.
func TestDummyVerifyCostsWhatVerifyCosts(t *testing.T) {
	params := Params{Memory: 4096, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}
	h := mustNew(t, params)
	h.DummyVerify("anything")
	if h.dummy.params != params {
		t.Fatalf("DummyVerify derives with %+v, real hashes use %+v", h.dummy.params, params)
	}
	if len(h.dummy.salt) != int(params.SaltLength) || len(h.dummy.key) != int(params.KeyLength) {
		t.Fatalf("dummy salt/key lengths %d/%d, want %d/%d", len(h.dummy.salt), len(h.dummy.key), params.SaltLength, params.KeyLength)
	}
	enc, err := h.Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	real, err := decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if real.params != h.dummy.params {
		t.Fatalf("a stored hash carries %+v, the dummy %+v", real.params, h.dummy.params)
	}
}

func BenchmarkDefaultVerify(b *testing.B) {
	enc, _ := Hash("benchmark password")
	for b.Loop() {
		_, _ = Verify("benchmark password", enc)
	}
}
