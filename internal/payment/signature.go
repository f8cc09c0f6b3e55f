package payment

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook's signature (Stripe's scheme).
const SignatureHeader = "Stripe-Signature"

// DefaultTolerance is how old a signed webhook may be; older ones are replays.
const DefaultTolerance = 5 * time.Minute

// Why a webhook signature is refused. Each is an ErrSignature.
var (
	ErrSignature        = errors.New("invalid webhook signature")
	errNoSignature      = sigError("no signature header, or no t= and v1= in it")
	errSignatureTooOld  = sigError("the signature's timestamp is outside the tolerance (a replay, or a clock far off)")
	errSignatureInvalid = sigError("no v1 signature matches the payload")
)

type sigError string

func (e sigError) Error() string { return string(e) }
func (e sigError) Is(target error) bool {
	return target == ErrSignature
}

// Sign returns the header value signing payload at time t with secret:
// "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<payload>">".
func Sign(payload []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(ts, payload, secret)
}

func mac(ts string, payload []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks header (the SignatureHeader value) against payload: one of
// its v1 signatures must be the HMAC of its timestamp and the exact payload bytes, and
// the timestamp must be within tolerance of now, either way. Comparison is constant-time.
func VerifySignature(payload []byte, header, secret string, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errNoSignature
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return errSignatureTooOld
	}
	want := []byte(mac(ts, payload, secret))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return errSignatureInvalid
}
