// Package web is reelvault's web view of the archive: the catalog as a
// filterable table, one page per task with its metadata and its videos
// playing in the page, and the loss-risk numbers at the top.
//
// It is server-rendered html/template with a little plain JavaScript, all
// embedded in the binary: no build step, no external assets. The HTTP
// server mounts the handler from New at "/" beside its own API routes.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/storage"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Health is the row of numbers at the top of every page: what an operator
// checks to see that nothing is about to be lost. Zero times mean "none".
type Health struct {
	PendingVideos    int       // videos finished upstream but not archived yet
	NextExpiry       time.Time // when the first pending video's signed URL dies
	OldestUnarchived time.Time // when the longest-waiting succeeded task finished
	LastArchive      time.Time // when a video was last archived
}

// Options configure the handler.
type Options struct {
	// Token, when set, is required on every request: as
	// "Authorization: Bearer <token>", or once as ?token=<token>, which sets
	// a cookie so that a browser can keep browsing. When empty, only
	// loopback clients are served.
	Token string
	// PresignTTL > 0 makes video sources pre-signed URLs valid that long,
	// when the store can presign (s3, minio), so that video bytes go from
	// the bucket to the browser without passing through reelvault.
	PresignTTL time.Duration
	// Health reads the numbers at the top of the page; nil reads them from
	// the catalog (CatalogHealth).
	Health func(context.Context) (Health, error)
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
}

// handler serves the web view.
type handler struct {
	cat    *catalog.DB
	store  storage.Store
	opts   Options
	log    *slog.Logger
	pages  *pages
	mux    *http.ServeMux
	cookie string // the cookie value that proves the token was given
}

// New returns the web view's handler for the catalog and the store holding
// its objects. It serves GET /, /tasks/{id}, /tasks/{id}/video/{kind} and
// /static/..., and 404 for anything else.
func New(cat *catalog.DB, store storage.Store, opts Options) http.Handler {
	h := &handler{cat: cat, store: store, opts: opts, log: opts.Logger, pages: parsePages()}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.opts.Health == nil {
		h.opts.Health = CatalogHealth(cat)
	}
	if opts.Token != "" {
		// The cookie holds a digest, not the token itself, so a leaked
		// cookie does not reveal the intake API's token.
		sum := sha256.Sum256([]byte("reelvault-web-session\x00" + opts.Token))
		h.cookie = hex.EncodeToString(sum[:])
	}
	static, _ := fs.Sub(assets, "static")
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /tasks/{id}", h.task)
	h.mux.HandleFunc("GET /tasks/{id}/video/{kind}", h.video)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return h
}

// CatalogHealth reads Health from the catalog's own bookkeeping; the server
// may pass numbers it already keeps for /metrics instead.
func CatalogHealth(cat *catalog.DB) func(context.Context) (Health, error) {
	return func(ctx context.Context) (Health, error) {
		var h Health
		b, err := cat.Backlog(ctx)
		if err != nil {
			return h, err
		}
		_, assets, err := cat.Counts(ctx)
		if err != nil {
			return h, err
		}
		last, err := cat.LastArchivedAt(ctx)
		if err != nil {
			return h, err
		}
		h.PendingVideos = assets[catalog.AssetPending]
		if b.NextExpiry != nil {
			h.NextExpiry = *b.NextExpiry
		}
		if b.OldestUnarchived != nil {
			h.OldestUnarchived = *b.OldestUnarchived
		}
		if last != nil {
			h.LastArchive = *last
		}
		return h, nil
	}
}

const cookieName = "reelvault_session"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	// Pre-signed video URLs point at the bucket's own origin, hence media-src.
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"media-src 'self' https: http:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if !h.authorized(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized admits the request or answers it. A ?token= that matches is
// swapped for a cookie and a redirect to the same URL without the token, so
// the token does not stay in the address bar, the history or a Referer.
func (h *handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.Token == "" {
		if loopbackClient(r.RemoteAddr) {
			return true
		}
		http.Error(w, "reelvault: the web view without server.token is served to loopback clients only", http.StatusForbidden)
		return false
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(bearer, h.opts.Token) {
		return true
	}
	if c, err := r.Cookie(cookieName); err == nil && equal(c.Value, h.cookie) {
		return true
	}
	if q := r.URL.Query(); q.Has("token") {
		if !equal(q.Get("token"), h.opts.Token) {
			http.Error(w, "reelvault: wrong token", http.StatusUnauthorized)
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: h.cookie, Path: "/", HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="reelvault"`)
	http.Error(w, "reelvault: this page needs the server token: open it once as /?token=<server.token>", http.StatusUnauthorized)
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func loopbackClient(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
