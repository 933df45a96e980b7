// Package server is reelvault's HTTP face: the intake API (POST /v1/tasks),
// the forwarding proxy that learns task ids from creation replies, health and
// readiness probes, /metrics, and the web view mounted beside them.
//
// It owns routing, authentication of its own API and the listener's life
// cycle; what it serves comes in through Options, so `run`, `proxy` and
// `serve` each mount what they have.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

// Options say what to serve. Nil handlers leave their routes out.
type Options struct {
	// Token guards the intake API and /metrics ("Authorization: Bearer
	// <token>"). When empty, only loopback clients are served (config
	// validation allows an empty token only on a loopback listener), only
	// by the names of hostPolicy, and the intake takes JSON bodies only.
	Token string
	// AllowedHosts are host names, beyond IP addresses, localhost and the
	// host of the address given to Listen, that clients reach the server by
	// (server.allowed_hosts), as "name" or "name:port"; the port is ignored.
	// Any other Host is refused with 421, which stops DNS rebinding. Without
	// a token the check is always on; with one, only when names are given.
	AllowedHosts []string
	// Catalog receives tracked ids; nil disables intake and the proxy's
	// recording.
	Catalog *catalog.DB
	// Wake tells a running archiver that ids were tracked; nil when none runs
	// in this process (a daemon on the same catalog picks them up by itself).
	Wake func()
	// Gateway, when set, turns the proxy on: every request that is not one of
	// reelvault's own routes is forwarded there.
	Gateway *url.URL
	// Transport carries proxied requests [a clone of http.DefaultTransport].
	Transport http.RoundTripper
	// Ready are the readiness checks of GET /readyz, all of which must pass.
	Ready []Check
	// Metrics serves GET /metrics.
	Metrics http.Handler
	// Web is the web view (package web). It authenticates by itself. With
	// the proxy off it gets every path not taken; with the proxy on, only
	// webPaths (the web package's routes).
	Web http.Handler
	// Clock stamps tracked tasks [time.Now].
	Clock  func() time.Time
	Logger *slog.Logger
}

// webPaths are the web view's routes (web.New serves "/", /tasks/... and
// /static/...); the proxy forwards everything else.
var webPaths = []string{"/{$}", "/tasks/", "/static/"}

// maxIntakeBody bounds POST /v1/tasks: room for about 10,000 ids.
const maxIntakeBody = 1 << 20

// New returns the handler serving opts. Every route, the web view and the
// proxy included, is behind the Host and cross-origin checks of trust.go.
func New(opts Options) http.Handler {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	mux := http.NewServeMux()
	// Own routes are registered for every method and check it themselves,
	// so that a GET /v1/tasks is answered 405 here, never forwarded.
	mux.Handle("/healthz", method(http.MethodGet, http.HandlerFunc(healthz)))
	mux.Handle("/readyz", method(http.MethodGet, readyz(opts.Ready, opts.Logger)))
	if opts.Catalog != nil {
		mux.Handle("/v1/tasks", method(http.MethodPost, guard(opts.Token, &intake{opts: opts})))
	}
	if opts.Metrics != nil {
		mux.Handle("/metrics", method(http.MethodGet, guard(opts.Token, opts.Metrics)))
	}
	switch {
	case opts.Gateway != nil:
		if opts.Web != nil {
			for _, p := range webPaths {
				mux.Handle(p, opts.Web)
			}
		}
		mux.Handle("/", newProxy(opts))
	case opts.Web != nil:
		mux.Handle("/", opts.Web)
	}
	return trusted(opts, mux)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// method answers 405 to any other method than m (and HEAD for GET).
func method(m string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m && !(m == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+m)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// guard requires the token, or a loopback client when there is none.
func guard(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			if !loopbackClient(r.RemoteAddr) {
				writeError(w, http.StatusForbidden, "no server.token is configured: only loopback clients are served")
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reelvault"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer <server.token>")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func loopbackClient(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// Server is a listening HTTP server.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Listen binds addr (host:port; port 0 picks a free one) for h. The host
// of addr, as given, is one of the names h answers to (hostPolicy).
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (server.listen): %w", addr, err)
	}
	return newServer(ln, addr, h, log), nil
}

// newServer serves h on ln, which was bound for addr.
func newServer(ln net.Listener, addr string, h http.Handler, log *slog.Logger) *Server {
	host, _, _ := net.SplitHostPort(addr)
	base := context.WithValue(context.Background(), listenHostKey{}, host)
	return &Server{ln: ln, log: log, srv: &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
}

// Addr is the address actually bound, e.g. "127.0.0.1:8417".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx ends, then shuts down gracefully, giving requests
// in flight up to 5 s. Long proxied streams are cut after that.
func (s *Server) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
		s.log.Warn("http server shutdown cut short", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
