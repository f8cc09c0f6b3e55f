package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// parseCORSOrigins reads ROWGUARD_CORS_ALLOWED_ORIGINS: a comma-separated list of exact
// origins, as a browser writes them in its Origin header: scheme://host[:port]
// (https://app.example.com, http://localhost:5173). The scheme and host are lower-cased
// and a default port (:443 for https, :80 for http) is dropped, since browsers never send
// it; anything a browser never sends as an origin is refused, each with the reason: a
// path, a query, a fragment, user info, a scheme other than http(s), "null", and any
// wildcard (`*`, `https://*.example.com`): the API answers only the front ends listed.
func parseCORSOrigins(list string) (origins []string, bad []string) {
	seen := map[string]bool{}
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		origin, reason := normalizeOrigin(entry)
		if reason != "" {
			bad = append(bad, fmt.Sprintf("%q %s", entry, reason))
			continue
		}
		if !seen[origin] {
			seen[origin] = true
			origins = append(origins, origin)
		}
	}
	return origins, bad
}

// normalizeOrigin returns entry as a browser serializes that origin, or why it is not one.
func normalizeOrigin(entry string) (origin, reason string) {
	if strings.Contains(entry, "*") {
		return "", "is a wildcard: list each origin (scheme://host[:port]) that may call the API"
	}
	u, err := url.Parse(entry)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "", "is not an origin such as https://app.example.com"
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", "must start with https:// or http://"
	}
	if u.User != nil {
		return "", "must not hold user info"
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(entry, "#") {
		return "", fmt.Sprintf("must have no path, query or fragment (an origin is scheme://host[:port], e.g. %s://%s)",
			scheme, strings.ToLower(u.Host))
	}
	host := strings.ToLower(u.Hostname())
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':') {
			return "", "has a host that is not an ASCII name or IP address (write an international name in its xn-- form)"
		}
	}
	port := u.Port()
	if port == "" && strings.HasSuffix(u.Host, ":") {
		return "", "has an empty port"
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "has a port outside 1 to 65535"
		}
		port = strconv.Itoa(n)
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	origin = scheme + "://" + host
	if port != "" {
		origin += ":" + port
	}
	return origin, ""
}
