package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// parseTrustedProxies reads ROWGUARD_TRUSTED_PROXIES: a comma-separated list of IPv4 and
// IPv6 addresses and CIDRs (10.0.0.0/8,127.0.0.1,::1). A single address is its own
// network (/32, /128). A CIDR with host bits set (10.0.0.1/8) is refused rather than
// widened: it is more likely a typo for a single address than a wish to trust a network.
// bad lists the entries that are refused, each with the reason.
func parseTrustedProxies(list string) (prefixes []netip.Prefix, bad []string) {
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			switch {
			case err != nil:
				bad = append(bad, fmt.Sprintf("%q is not a CIDR", entry))
			case p != p.Masked():
				bad = append(bad, fmt.Sprintf("%q has host bits set (the network is %s; a single address is %s)",
					entry, p.Masked(), p.Addr()))
			default:
				prefixes = append(prefixes, p)
			}
			continue
		}
		a, err := netip.ParseAddr(entry)
		if err != nil || a.Zone() != "" {
			bad = append(bad, fmt.Sprintf("%q is not an IP address", entry))
			continue
		}
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return prefixes, bad
}
