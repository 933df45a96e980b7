package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// maxCapture bounds what the proxy keeps of a creation request and its
// reply, for parsing once the exchange is over. Bodies are streamed through
// whatever their size; only the copy is bounded.
const maxCapture = 1 << 20

// creationPath is the gateway's task-creation endpoint, whose replies carry
// the ids reelvault learns.
const creationPath = "/v1/video/generations"

type captureKey struct{}

// exchange is one creation request seen by the proxy: copies of both bodies
// (bounded) and who sent it.
type exchange struct {
	req           cappedBuffer
	resp          []byte // the whole reply
	authorization string
	encoding      string // the reply's Content-Encoding
	status        int
}

// proxy forwards requests to the gateway unchanged and learns task ids from
// creation replies.
type proxy struct {
	rp  *httputil.ReverseProxy
	rec *recorder
}

func newProxy(opts Options) *proxy {
	p := &proxy{rec: &recorder{opts: opts}}
	transport := opts.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	target := opts.Gateway
	p.rp = &httputil.ReverseProxy{
		// Rewrite (not Director) so nothing is added: no X-Forwarded-*, the
		// caller's headers and Authorization as they came. Host becomes the
		// gateway's, as a CDN in front of it expects.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: transport,
		// Flush every write: a streaming reply reaches the caller as it comes.
		FlushInterval:  -1,
		ModifyResponse: p.capture,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away
			}
			opts.Logger.Warn("proxy: gateway unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
			writeError(w, http.StatusBadGateway, "gateway unreachable: "+err.Error())
		},
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == creationPath && p.rec.opts.Catalog != nil {
		ex := &exchange{authorization: r.Header.Get("Authorization")}
		r.Body = &teeBody{ReadCloser: r.Body, copy: &ex.req}
		r = r.WithContext(context.WithValue(r.Context(), captureKey{}, ex))
	}
	p.rp.ServeHTTP(w, r)
}

// capture reads a successful creation reply (bounded), records the task,
// then hands the caller the very same bytes. Reading it first costs a
// millisecond on a small JSON reply and buys a guarantee: when the caller
// sees its task id, reelvault has already tracked it. Error replies, and
// replies over maxCapture, pass through as they stream.
func (p *proxy) capture(resp *http.Response) error {
	ex, _ := resp.Request.Context().Value(captureKey{}).(*exchange)
	if ex == nil {
		return nil
	}
	log := p.rec.opts.Logger
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		log.Info("proxy: gateway refused a creation request; passed through", "status", resp.StatusCode)
		return nil
	}
	ex.status, ex.encoding = resp.StatusCode, resp.Header.Get("Content-Encoding")
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxCapture+1))
	// Whatever happened, the caller gets what was read followed by the rest.
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	switch {
	case err != nil:
		log.Warn("proxy: creation reply cut short; passed through, no task id learned (track it by hand)", "err", err)
	case len(head) > maxCapture:
		log.Warn("proxy: creation reply over 1 MiB; passed through, no task id learned (track it by hand)")
	default:
		ex.resp = head
		ctx, cancel := context.WithTimeout(context.WithoutCancel(resp.Request.Context()), 10*time.Second)
		defer cancel()
		p.rec.record(ctx, ex)
	}
	return nil
}

// teeBody copies what is read through it into a bounded buffer.
type teeBody struct {
	io.ReadCloser
	copy *cappedBuffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.copy.Write(p[:n])
	if err == io.EOF {
		t.copy.markComplete()
	}
	return n, err
}

// cappedBuffer keeps the first maxCapture bytes written to it. It is safe
// for concurrent use: the transport may still be sending the request body
// while the reply is parsed.
type cappedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool // more was written than kept
	complete  bool // the body was read to its end
}

func (c *cappedBuffer) Write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxCapture - c.buf.Len(); len(p) > room {
		c.truncated = true
		p = p[:max(room, 0)]
	}
	c.buf.Write(p)
}

func (c *cappedBuffer) markComplete() {
	c.mu.Lock()
	c.complete = true
	c.mu.Unlock()
}

// snapshot returns a copy of what was kept, and whether it is the whole body.
func (c *cappedBuffer) snapshot() (data []byte, whole bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes()), c.complete && !c.truncated
}
