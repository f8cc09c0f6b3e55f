package api

import (
	"net/http"
	"net/netip"
	"strings"
)

// The client address: the key of the per-address rate-limit buckets, the ip of a new
// session and the access log's remote_ip. The middleware (requestInfo) computes it once
// per request and keeps it in the request's reqInfo; everything else reads it there
// (clientAddress).
//
// Without trusted proxies it is the TCP peer. When the peer is a trusted proxy
// (Options.TrustedProxies, ROWGUARD_TRUSTED_PROXIES), X-Forwarded-For is read from the
// right, the end the proxies append to: the first address that is not a trusted proxy
// is the client. Everything left of it was written by that client, or by proxies it
// chose, and is never believed. Only X-Forwarded-For is read: a proxy that writes it
// passes a client's own Forwarded (RFC 7239) header through untouched, so reading both
// would let that client pick its address.

// forwardedForHeader is the header the trusted proxies append the address they saw to.
const forwardedForHeader = "X-Forwarded-For"

// trustedProxies are the networks whose connections may say who the client is.
type trustedProxies []netip.Prefix

// newTrustedProxies normalizes prefixes: masked, and an IPv4-mapped IPv6 prefix as the
// IPv4 prefix it means (addresses are compared unmapped).
func newTrustedProxies(prefixes []netip.Prefix) trustedProxies {
	var out trustedProxies
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// trusts reports whether a (unmapped) is the address of a trusted proxy.
func (t trustedProxies) trusts(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the client's address for a connection from remoteAddr (host:port, as in
// http.Request.RemoteAddr) that carried the X-Forwarded-For header lines forwardedFor.
// The peer when it is not a trusted proxy; else the rightmost forwarded address that is
// not a trusted proxy, or, when every one is, the leftmost. An entry that does not parse
// stops the walk: the last trusted hop before it is the answer. The zero Addr when the
// peer itself does not parse.
func (t trustedProxies) clientAddr(remoteAddr string, forwardedFor []string) netip.Addr {
	peer, ok := parsePeer(remoteAddr)
	if !ok || !t.trusts(peer) {
		return peer
	}
	last := peer // the last trusted hop
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		line := forwardedFor[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				line, entry = line[:j], line[j+1:]
			} else {
				line, entry = "", line
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue // an empty list element ("a,,b"): nothing to believe or refuse
			}
			a, ok := parseHop(entry)
			if !ok {
				return last
			}
			if !t.trusts(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// parsePeer reads the address of http.Request.RemoteAddr (host:port), unmapped and
// without an IPv6 zone.
func parsePeer(remoteAddr string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil { // no port (not from net/http)
		return a.WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// parseHop reads one X-Forwarded-For entry: an IPv4 or IPv6 address, optionally with a
// port (1.2.3.4:5678, [2001:db8::1]:443) or in brackets ([2001:db8::1]). Anything else
// ("unknown", a host name, an obfuscated identifier, a zone) does not parse.
func parseHop(s string) (netip.Addr, bool) {
	host := s
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 || !validPort(s[end+1:], true) {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if !strings.Contains(host, ":") { // [1.2.3.4] is not a thing
			return netip.Addr{}, false
		}
	case strings.Count(s, ":") == 1: // IPv4:port; IPv6 has at least two colons
		var port string
		host, port, _ = strings.Cut(s, ":")
		if !validPort(":"+port, false) {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validPort accepts ":<1 to 5 digits>", and "" when optional.
func validPort(s string, optional bool) bool {
	if s == "" {
		return optional
	}
	if s[0] != ':' || len(s) < 2 || len(s) > 6 {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clientAddress is the client's address as the request's middleware computed it, for
// buckets and logs: "unknown" when the peer address did not parse.
func clientAddress(r *http.Request) string {
	if ip := clientIP(r); ip != "" {
		return ip
	}
	return "unknown"
}

// clientIP is the client's address ("" when unknown), for a session's ip column and the
// access log. Outside the middleware (tests calling a handler directly) it is the peer.
func clientIP(r *http.Request) string {
	var a netip.Addr
	if info := infoFrom(r.Context()); info != nil {
		a = info.client
	} else {
		a, _ = parsePeer(r.RemoteAddr)
	}
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// The client's network: what per-address limits count and hash slots are shared by. An
// IPv4 address is its own network; an IPv6 address counts as its /64, the block one
// subscriber usually holds whole (so an attacker cannot count as 2^64 clients).
const ipv6ClientBits = 64

// networkOf is a's network as a prefix (an IPv4 /32, an IPv6 /64); invalid when a is.
func networkOf(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(ipv6ClientBits)
	return p
}

// clientNetworkPrefix is the request's client network (invalid when unknown).
func clientNetworkPrefix(r *http.Request) netip.Prefix {
	var a netip.Addr
	if info := infoFrom(r.Context()); info != nil {
		a = info.client
	} else {
		a, _ = parsePeer(r.RemoteAddr)
	}
	return networkOf(a)
}

// clientNetwork names the client's network in bucket names: an IPv4 address as itself,
// an IPv6 /64 as a prefix ("2001:db8:1:2::/64"), "unknown" when the peer did not parse.
func clientNetwork(r *http.Request) string {
	return networkKey(clientNetworkPrefix(r))
}

func networkKey(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "unknown"
	case p.Addr().Is4():
		return p.Addr().String()
	default:
		return p.String()
	}
}

// clientNetworkParam is the client network for an inet parameter ("192.0.2.1/32",
// "2001:db8:1:2::/64"), or nil when unknown.
func clientNetworkParam(r *http.Request) any {
	if p := clientNetworkPrefix(r); p.IsValid() {
		return p.String()
	}
	return nil
}
