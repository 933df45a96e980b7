package storagetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// CorruptingProxy is a reverse proxy to the S3 server at endpoint that flips
// one bit in the body of every PUT it forwards (at offset 100, or the last
// byte of a shorter body), as a faulty NIC or middlebox would: the length
// is right, one byte is wrong. Signed requests pass its Host header through
// unchanged, so their signatures still match; only a server that checks the
// payload's hash can tell. It returns the proxy's base URL and a counter of
// the bodies it damaged.
func CorruptingProxy(t testing.TB, endpoint string) (proxyURL string, damaged *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	damaged = new(atomic.Int64)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // signed by the client
			if r.In.Method == http.MethodPut && r.In.ContentLength > 0 {
				r.Out.Body = &bitFlipper{r: r.In.Body, at: min(100, r.In.ContentLength-1), damaged: damaged}
			}
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL, damaged
}

// bitFlipper passes r through with the lowest bit of byte at inverted.
type bitFlipper struct {
	r       io.ReadCloser
	at, off int64
	damaged *atomic.Int64
}

func (b *bitFlipper) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if i := b.at - b.off; i >= 0 && i < int64(n) {
		p[i] ^= 1
		b.damaged.Add(1)
	}
	b.off += int64(n)
	return n, err
}

func (b *bitFlipper) Close() error { return b.r.Close() }
