package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func mustPrefixes(t testing.TB, ss ...string) trustedProxies {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return newTrustedProxies(out)
}

func TestClientAddr(t *testing.T) {
	// The proxies: a load balancer network, loopback and an IPv6 proxy network.
	proxies := mustPrefixes(t, "10.0.0.0/8", "127.0.0.1/32", "::1/128", "2001:db8:ffff::/48")
	cases := []struct {
		name   string
		peer   string
		xff    []string // header lines, in order
		want   string   // "" for the zero Addr
		policy trustedProxies
	}{
		{name: "no proxies configured: the peer, whatever the header says",
			peer: "10.1.2.3:5555", xff: []string{"203.0.113.9"}, want: "10.1.2.3", policy: trustedProxies{}},
		{name: "untrusted peer sending X-Forwarded-For: ignored",
			peer: "198.51.100.7:40000", xff: []string{"203.0.113.9"}, want: "198.51.100.7"},
		{name: "untrusted peer claiming to be a trusted proxy's client",
			peer: "198.51.100.7:40000", xff: []string{"10.0.0.1, 127.0.0.1"}, want: "198.51.100.7"},
		{name: "trusted peer without the header: the peer",
			peer: "10.0.0.5:1234", want: "10.0.0.5"},
		{name: "trusted peer, one client",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "spoofed left-most entry: the real client to its right wins",
			peer: "10.0.0.5:1234", xff: []string{"1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "spoofed trusted-looking entries left of the real client",
			peer: "10.0.0.5:1234", xff: []string{"10.9.9.9, 127.0.0.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "a chain of trusted proxies is skipped",
			peer: "10.0.0.5:1234", xff: []string{"198.51.100.1, 203.0.113.9, 10.0.0.7, 10.0.0.6"}, want: "203.0.113.9"},
		{name: "several header lines read as one list, last line right-most",
			peer: "10.0.0.5:1234", xff: []string{"198.51.100.1", "203.0.113.9, 10.0.0.7", "10.0.0.6"}, want: "203.0.113.9"},
		{name: "a spoofed header line before the proxy's own",
			peer: "10.0.0.5:1234", xff: []string{"1.1.1.1", "203.0.113.9"}, want: "203.0.113.9"},
		{name: "every address trusted: the left-most",
			peer: "10.0.0.5:1234", xff: []string{"10.0.0.9, 127.0.0.1, 10.0.0.7"}, want: "10.0.0.9"},
		{name: "empty header: the peer",
			peer: "10.0.0.5:1234", xff: []string{""}, want: "10.0.0.5"},
		{name: "empty list elements are skipped",
			peer: "10.0.0.5:1234", xff: []string{" , 203.0.113.9 ,, ,10.0.0.7,"}, want: "203.0.113.9"},
		{name: "garbage right of the client stops the walk at the last trusted hop",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.9, bogus, 10.0.0.7"}, want: "10.0.0.7"},
		{name: "garbage as the only entry: the peer",
			peer: "10.0.0.5:1234", xff: []string{"unknown"}, want: "10.0.0.5"},
		{name: "garbage left of the client is never reached",
			peer: "10.0.0.5:1234", xff: []string{"<script>, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "a host name does not parse",
			peer: "10.0.0.5:1234", xff: []string{"evil.example.com"}, want: "10.0.0.5"},
		{name: "an address with a zone does not parse",
			peer: "10.0.0.5:1234", xff: []string{"fe80::1%eth0"}, want: "10.0.0.5"},
		{name: "a CIDR does not parse",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.0/24"}, want: "10.0.0.5"},
		{name: "leading zeros do not parse",
			peer: "10.0.0.5:1234", xff: []string{"010.0.0.1"}, want: "10.0.0.5"},
		{name: "a quoted address does not parse",
			peer: "10.0.0.5:1234", xff: []string{`"203.0.113.9"`}, want: "10.0.0.5"},
		{name: "IPv4 with a port",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.9:51000"}, want: "203.0.113.9"},
		{name: "IPv4 with an empty or bad port does not parse",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.9:, 203.0.113.8:http"}, want: "10.0.0.5"},
		{name: "IPv6",
			peer: "10.0.0.5:1234", xff: []string{"2001:db8::42"}, want: "2001:db8::42"},
		{name: "IPv6 in brackets",
			peer: "10.0.0.5:1234", xff: []string{"[2001:db8::42]"}, want: "2001:db8::42"},
		{name: "IPv6 in brackets with a port",
			peer: "10.0.0.5:1234", xff: []string{"[2001:db8::42]:443"}, want: "2001:db8::42"},
		{name: "broken brackets do not parse",
			peer: "10.0.0.5:1234", xff: []string{"[2001:db8::42, [2001:db8::43]x, [203.0.113.9]"}, want: "10.0.0.5"},
		{name: "IPv4-mapped IPv6 is the IPv4 address",
			peer: "10.0.0.5:1234", xff: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "an IPv4-mapped trusted proxy is trusted",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.9, ::ffff:10.0.0.7"}, want: "203.0.113.9"},
		{name: "IPv6 trusted peer and IPv6 proxies",
			peer: "[::1]:8080", xff: []string{"2001:db8::42, [2001:db8:ffff::1]:80"}, want: "2001:db8::42"},
		{name: "IPv4-mapped peer is trusted as IPv4",
			peer: "[::ffff:10.0.0.5]:1234", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "untrusted IPv6 peer",
			peer: "[2001:db8:1::1]:1234", xff: []string{"203.0.113.9"}, want: "2001:db8:1::1"},
		{name: "peer with a zone",
			peer: "[fe80::1%eth0]:1234", want: "fe80::1"},
		{name: "unparseable peer: unknown",
			peer: "@", xff: []string{"203.0.113.9"}, want: ""},
		{name: "trusted proxy given as a mapped prefix",
			peer: "10.0.0.5:1234", xff: []string{"203.0.113.9"}, want: "203.0.113.9",
			policy: mustPrefixes(t, "::ffff:10.0.0.0/104")},
		{name: "trust everything: the left-most (only for a network nobody else reaches)",
			peer: "198.51.100.7:1", xff: []string{"203.0.113.9, 198.51.100.1"}, want: "203.0.113.9",
			policy: mustPrefixes(t, "0.0.0.0/0", "::/0")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			policy := tc.policy
			if policy == nil {
				policy = proxies
			}
			got := policy.clientAddr(tc.peer, tc.xff)
			if (tc.want == "" && got.IsValid()) || (tc.want != "" && got.String() != tc.want) {
				t.Errorf("clientAddr(%q, %q) = %v, want %q", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

// The middleware computes the address once; rate limits, sessions and the log read it.
func TestClientAddressFromRequest(t *testing.T) {
	var got []string
	h := requestInfo(mustPrefixes(t, "192.0.2.0/24"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, clientAddress(r), clientIP(r))
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil) // from 192.0.2.1:1234
	r.Header.Add("X-Forwarded-For", "198.51.100.1")
	r.Header.Add("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), r)
	r.RemoteAddr = "not an address"
	h.ServeHTTP(httptest.NewRecorder(), r)
	want := []string{"203.0.113.9", "203.0.113.9", "unknown", ""}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got, want)
			break
		}
	}
	// Without the middleware (a handler called directly): the peer.
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if ip := clientIP(r); ip != "192.0.2.1" {
		t.Errorf("clientIP without middleware = %q", ip)
	}
}
