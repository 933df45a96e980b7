package archiver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
)

// Hooks for the external tests: they reach into the downloader's transport
// only to stand in for the world (a CA, a DNS server), never to relax the
// policy under test.

// TrustTestServer makes a's downloads trust the TLS certificate of srv.
func TrustTestServer(a *Archiver, srv *httptest.Server) {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	a.dl.client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
}

// ResolveForTest makes a's downloads resolve the given names to the given
// IPs, as a DNS server would, before the policy's dial-time check runs.
func ResolveForTest(a *Archiver, hosts map[string]string) {
	tr := a.dl.client.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && hosts[host] != "" {
			addr = net.JoinHostPort(hosts[host], port)
		}
		return dial(ctx, network, addr)
	}
}
