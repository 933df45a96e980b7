package server

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Without server.token the server's only authentication is that the client
// is on loopback, and so is every web page the operator's browser opens.
// Two attacks follow, and each has its guard here:
//
//   - DNS rebinding. A page at evil.example whose name is then pointed at
//     127.0.0.1 is, to the browser, same-origin with reelvault: it reads the
//     web view and /metrics and posts to the intake. Its requests still say
//     "Host: evil.example", so the server answers only the names it is known
//     by (hostPolicy).
//   - Cross-site requests. Any page may POST a "simple" request (text/plain,
//     a form, a typeless Blob) to 127.0.0.1 without a CORS preflight. The
//     browser marks it with Sec-Fetch-Site or Origin, so state-changing
//     requests from another origin are refused (crossOrigin), and the intake
//     requires Content-Type: application/json, which no page can send
//     cross-origin without a preflight that reelvault never grants.
//
// With a token neither attack gets anywhere: a page cannot add the
// Authorization header to a request without a preflight, and the web view's
// cookie is bound to the name it was set for. The Host check is then applied
// only when names are configured (Options.AllowedHosts), so that a token
// deployment reached by a name reelvault was never told keeps working; the
// cross-origin check applies in both modes.

// listenHostKey carries the host part of the address Listen was given (as
// configured, before resolution) to every request, since "the name in
// server.listen" is a name the server is known by.
type listenHostKey struct{}

// hostPolicy says which Host headers the server answers.
//
// The rule: any IP literal (a rebinding page's origin is a host name it
// controls; a request whose Host is an IP address comes from a page whose
// origin is that address, or from a program, such as a probe using the pod
// IP), an absent Host (no browser omits it), localhost and *.localhost
// (which resolve to loopback only, RFC 6761), the host of server.listen, and
// the configured names. Names compare case-insensitively, without the port
// and a trailing dot.
type hostPolicy struct {
	enforce bool
	names   map[string]bool
}

func newHostPolicy(opts Options) hostPolicy {
	p := hostPolicy{enforce: opts.Token == "" || len(opts.AllowedHosts) > 0, names: map[string]bool{}}
	for _, n := range opts.AllowedHosts {
		p.names[hostname(n)] = true
	}
	return p
}

func (p hostPolicy) allows(r *http.Request) bool {
	if !p.enforce {
		return true
	}
	host := hostname(r.Host)
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") || p.names[host] {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	listen, _ := r.Context().Value(listenHostKey{}).(string)
	return listen != "" && hostname(listen) == host
}

// hostname is the host of a Host header or host[:port] entry: lower-case,
// without the port, the IPv6 brackets and a trailing dot.
func hostname(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// trusted wraps every route of the server in the Host check and the
// cross-origin check, in that order.
func trusted(opts Options, h http.Handler) http.Handler {
	hosts := newHostPolicy(opts)
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.allows(r) {
			opts.Logger.Info("refused a request for a host name this server is not known by",
				"host", clip(r.Host, 100), "path", clip(r.URL.Path, 100))
			writeError(w, http.StatusMisdirectedRequest, "this server does not answer to the name "+quote(r.Host)+
				": it answers to IP addresses, localhost, the host of server.listen and the names in server.allowed_hosts "+
				"(add the name there if you reach reelvault by it)")
			return
		}
		if err := cop.Check(r); err != nil {
			opts.Logger.Info("refused a cross-origin request", "method", r.Method, "path", clip(r.URL.Path, 100),
				"origin", clip(r.Header.Get("Origin"), 100), "sec_fetch_site", clip(r.Header.Get("Sec-Fetch-Site"), 20))
			writeError(w, http.StatusForbidden, r.Method+" from another site's page refused ("+err.Error()+
				"): reelvault takes state-changing requests from programs and its own pages only")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// jsonBody reports whether the request says its body is JSON.
func jsonBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

func quote(s string) string { return `"` + clip(strings.ToValidUTF8(s, "?"), 100) + `"` }
