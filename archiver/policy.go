package archiver

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// The dialer's timeouts, as net/http's default transport has them.
const (
	dialTimeout   = 30 * time.Second
	dialKeepAlive = 30 * time.Second
)

// urlPolicy decides which video URLs the downloader may fetch and which
// addresses it may connect to. The gateway hands reelvault arbitrary URLs:
// a compromised or hostile one must not make reelvault read an internal
// service (cloud metadata, an admin port on loopback) and store the answer.
type urlPolicy struct {
	allowHTTP    bool
	hosts        []string // lower-case; exact names, or "*.example.com"
	allowPrivate bool
}

func newURLPolicy(o Options) urlPolicy {
	p := urlPolicy{allowHTTP: o.AllowHTTP, allowPrivate: o.AllowPrivateNetworks}
	for _, h := range o.AllowedHosts {
		if h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), "."); h != "" {
			p.hosts = append(p.hosts, h)
		}
	}
	return p
}

// check vets a URL before it is requested, and again at every redirect.
func (p urlPolicy) check(u *url.URL) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.allowHTTP:
	default:
		return &policyError{reason: fmt.Sprintf("scheme %q not allowed (set archive.allow_http to fetch http)", u.Scheme)}
	}
	if u.Hostname() == "" {
		return &policyError{reason: "no host"}
	}
	if u.User != nil {
		return &policyError{reason: "credentials in the URL"}
	}
	if !p.hostAllowed(u.Hostname()) {
		return &policyError{reason: fmt.Sprintf("host %q is not in archive.allowed_hosts", u.Hostname())}
	}
	return nil
}

// hostAllowed matches host against the allow-list; an empty list allows
// every host. "*.example.com" matches any name below example.com, not
// example.com itself.
func (p urlPolicy) hostAllowed(host string) bool {
	if len(p.hosts) == 0 {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, h := range p.hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// checkRedirect is the http.Client's CheckRedirect: every hop passes the
// same policy as the first URL, and none goes from https back to http.
func (p urlPolicy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return &policyError{reason: "more than 5 redirects"}
	}
	if err := p.check(req.URL); err != nil {
		return err
	}
	for _, prev := range via {
		if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return &policyError{reason: fmt.Sprintf("redirect from https to %s (%s)", req.URL.Scheme, req.URL.Host)}
		}
	}
	return nil
}

// control runs for every connection the downloader opens, after DNS, with
// the address actually dialled. Checking here rather than on the URL means
// no DNS answer (a name that resolves to 127.0.0.1, a rebinding between
// check and dial) can steer a download into a private network.
func (p urlPolicy) control(network, address string, _ syscall.RawConn) error {
	if p.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &policyError{reason: fmt.Sprintf("cannot check address %q", address)}
	}
	if kind := privateKind(ap.Addr()); kind != "" {
		return &policyError{reason: fmt.Sprintf("address %s is %s (set archive.allow_private_networks to allow it)", ap.Addr(), kind)}
	}
	return nil
}

// special is one row of the address table: a prefix and why an address in
// it is refused, or "" for a globally reachable block carved out of a
// larger refused one.
type special struct {
	prefix netip.Prefix
	kind   string
	// embedded, for tunnel and transition blocks, extracts the IPv4
	// address the block carries, named in the refusal.
	embedded func(b [16]byte) [4]byte
}

func row(prefix, kind string) special {
	return special{prefix: netip.MustParsePrefix(prefix), kind: kind}
}

// tunnel is a row for a block that embeds an IPv4 address. Such blocks are
// refused whatever they embed: the tunnels are deprecated and no video
// origin lives behind one.
func tunnel(prefix, kind string, embedded func(b [16]byte) [4]byte) special {
	return special{prefix: netip.MustParsePrefix(prefix), kind: kind, embedded: embedded}
}

// specialRanges is what the downloader refuses to connect to: every block of
// the IANA IPv4 and IPv6 Special-Purpose Address Registries whose "Globally
// Reachable" is False or N/A, plus multicast, IPv4's reserved 240.0.0.0/4
// and limited broadcast. A video origin on the internet is never in one of
// them; an internal service (loopback, a cloud metadata endpoint, a
// benchmark or lab network, a tunnel endpoint) may be. The few blocks the
// registries mark globally reachable inside a refused one (anycast services
// in 192.0.0.0/24 and 2001::/23) are allowed, listed before the block that
// holds them: the first matching row decides.
//
// Addresses that embed an IPv4 address are unwrapped first (see
// privateKind), so ::ffff:127.0.0.1 and 64:ff9b::7f00:1 are loopback. IPv6
// outside 2000::/3, the only block IANA allocates for global unicast, is
// refused even when not listed here.
var specialRanges = []special{
	// IPv4 (RFC 6890 and later registrations).
	row("0.0.0.0/8", "unspecified (\"this network\")"),
	row("10.0.0.0/8", "private"),
	row("100.64.0.0/10", "private (carrier-grade NAT shared space)"),
	row("127.0.0.0/8", "loopback"),
	row("169.254.0.0/16", "link-local"),
	row("172.16.0.0/12", "private"),
	row("192.0.0.9/32", ""),  // Port Control Protocol anycast
	row("192.0.0.10/32", ""), // TURN anycast
	row("192.0.0.0/24", "reserved for IETF protocol assignments"),
	row("192.0.2.0/24", "reserved for documentation"),
	row("192.88.99.0/24", "a deprecated 6to4 relay anycast address"),
	row("192.168.0.0/16", "private"),
	row("198.18.0.0/15", "reserved for benchmarking"),
	row("198.51.100.0/24", "reserved for documentation"),
	row("203.0.113.0/24", "reserved for documentation"),
	row("224.0.0.0/4", "multicast"),
	row("255.255.255.255/32", "broadcast"),
	row("240.0.0.0/4", "reserved"),

	// IPv6.
	row("::/128", "unspecified"),
	row("::1/128", "loopback"),
	tunnel("::/96", "a deprecated IPv4-compatible address", func(b [16]byte) [4]byte { return [4]byte(b[12:]) }),
	row("64:ff9b:1::/48", "a local-use IPv4/IPv6 translation address"),
	row("100::/64", "discard-only"),
	row("100:0:0:1::/64", "a dummy prefix"),
	row("2001:1::1/128", ""),   // Port Control Protocol anycast
	row("2001:1::2/128", ""),   // TURN anycast
	row("2001:1::3/128", ""),   // DNS-SD service registration anycast
	row("2001:3::/32", ""),     // AMT
	row("2001:4:112::/48", ""), // AS112
	row("2001:20::/28", ""),    // ORCHIDv2
	row("2001:30::/28", ""),    // drone remote ID
	// Teredo keeps the client's IPv4 address, inverted, in the last 32 bits.
	tunnel("2001::/32", "a Teredo tunnel address", func(b [16]byte) [4]byte { return [4]byte{^b[12], ^b[13], ^b[14], ^b[15]} }),
	row("2001::/23", "reserved for IETF protocol assignments"),
	row("2001:db8::/32", "reserved for documentation"),
	tunnel("2002::/16", "a 6to4 tunnel address", func(b [16]byte) [4]byte { return [4]byte(b[2:6]) }),
	row("3fff::/20", "reserved for documentation"),
	row("5f00::/16", "a segment routing (SRv6) identifier"),
	row("fc00::/7", "private (unique local)"),
	row("fe80::/10", "link-local"),
	row("fec0::/10", "site-local (deprecated)"),
	row("ff00::/8", "multicast"),
}

var (
	// nat64 is the well-known NAT64 prefix (RFC 6052): a translator on the
	// way connects to the IPv4 address in the last 32 bits, so that address
	// decides. The registry marks the prefix globally reachable, and on an
	// IPv6-only network with DNS64 every public video host is reached
	// through it.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// globalUnicast is the only IPv6 block IANA allocates for global
	// unicast; everything outside it is special or unallocated.
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// privateKind names why ip is not on the public internet, or returns "".
func privateKind(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not an IP address"
	}
	// A zone (fe80::1%eth0) makes Prefix.Contains false: drop it, the
	// address alone decides.
	ip = ip.WithZone("").Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if nat64.Contains(ip) {
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte(b[12:]))
		if kind := privateKind(v4); kind != "" {
			return fmt.Sprintf("%s (%s inside a NAT64 address)", kind, v4)
		}
		return ""
	}
	for _, s := range specialRanges {
		if s.prefix.Contains(ip) {
			if s.embedded != nil {
				return fmt.Sprintf("%s (embedding %s)", s.kind, netip.AddrFrom4(s.embedded(ip.As16())))
			}
			return s.kind
		}
	}
	if ip.Is6() && !globalUnicast.Contains(ip) {
		return "outside IPv6 global unicast space"
	}
	return ""
}

// dialer returns the net.Dialer every download connection goes through.
func (p urlPolicy) dialer() *net.Dialer {
	return &net.Dialer{Timeout: dialTimeout, KeepAlive: dialKeepAlive, Control: p.control}
}
