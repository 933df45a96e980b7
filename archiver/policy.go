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

// sharedSpace is carrier-grade NAT space (RFC 6598), internal like RFC 1918.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// privateKind names why ip is not on the public internet, or returns "".
func privateKind(ip netip.Addr) string {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified(), ip.Is4() && ip.As4()[0] == 0:
		return "unspecified"
	case ip.IsPrivate(), sharedSpace.Contains(ip):
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	}
	return ""
}

// dialer returns the net.Dialer every download connection goes through.
func (p urlPolicy) dialer() *net.Dialer {
	return &net.Dialer{Timeout: dialTimeout, KeepAlive: dialKeepAlive, Control: p.control}
}
