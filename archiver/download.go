package archiver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// errStalled cancels a transfer that moved no byte for the stall timeout.
var errStalled = errors.New("transfer stalled")

// originError is a non-200 answer from the video's origin.
type originError struct {
	status int
	detail string
}

func (e *originError) Error() string {
	return fmt.Sprintf("origin answered HTTP %d %s", e.status, e.detail)
}

// refused reports whether the origin refused the signed URL itself (expired
// or bad signature), as opposed to failing for a while.
func (e *originError) refused() bool {
	return e.status == http.StatusForbidden || e.status == http.StatusNotFound || e.status == http.StatusGone ||
		e.status == http.StatusUnauthorized
}

// policyError is a URL reelvault will not fetch; retrying cannot help.
type policyError struct{ reason string }

func (e *policyError) Error() string { return "url refused by policy: " + e.reason }

// stored describes a verified copy.
type stored struct {
	size   int64
	sha256 string
}

// downloader streams videos from signed URLs into a store, verifying them on
// the way. It never holds a whole video in memory or on local disk.
type downloader struct {
	client    *http.Client
	store     storage.Store
	stall     time.Duration
	allowHTTP bool
}

func newDownloader(store storage.Store, stall time.Duration, allowHTTP bool) *downloader {
	d := &downloader{store: store, stall: stall, allowHTTP: allowHTTP}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// No total timeout: a 2 GiB video may take long. The stall timer below
	// and the header timeout catch a dead origin instead.
	transport.ResponseHeaderTimeout = stall
	transport.MaxIdleConnsPerHost = 16
	d.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return &policyError{reason: "more than 5 redirects"}
			}
			if err := d.checkURL(req.URL); err != nil {
				return err
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return &policyError{reason: "redirect from https to " + req.URL.Scheme}
			}
			return nil
		},
	}
	return d
}

func (d *downloader) checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && d.allowHTTP:
	default:
		return &policyError{reason: fmt.Sprintf("scheme %q not allowed (set archive.allow_http to fetch http)", u.Scheme)}
	}
	if u.Host == "" {
		return &policyError{reason: "no host"}
	}
	return nil
}

// fetch streams src into the store under key and returns what was stored,
// verified: HTTP 200, an MP4 body (ftyp box first), every byte of the
// declared length, and the stored object's size equal to the bytes read.
func (d *downloader) fetch(ctx context.Context, src, key string, opts storage.PutOptions) (stored, error) {
	u, err := url.Parse(src)
	if err != nil {
		return stored{}, &policyError{reason: "unparseable url"}
	}
	if err := d.checkURL(u); err != nil {
		return stored{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(d.stall, func() { cancel(errStalled) })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return stored{}, &policyError{reason: err.Error()}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		var pe *policyError
		if errors.As(err, &pe) {
			return stored{}, pe
		}
		return stored{}, fmt.Errorf("download: %w", stallCause(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return stored{}, &originError{status: resp.StatusCode, detail: snippet(resp)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); isTextual(mt) {
		return stored{}, fmt.Errorf("origin sent %s instead of a video: %s", mt, snippet(resp))
	}
	body := bufio.NewReaderSize(resp.Body, 64<<10)
	head, err := body.Peek(8)
	if err != nil {
		return stored{}, fmt.Errorf("read video header: %w", stallCause(ctx, noEOF(err)))
	}
	if string(head[4:8]) != "ftyp" {
		return stored{}, fmt.Errorf("body is not an MP4 (starts %q)", printable(head))
	}
	v := &verifier{r: body, h: sha256.New(), want: resp.ContentLength, onRead: func() { stall.Reset(d.stall) }}
	if err := d.store.Put(ctx, key, v, resp.ContentLength, opts); err != nil {
		if v.err != nil {
			err = v.err // the download failed first; the store only passed it on
		}
		return stored{}, fmt.Errorf("store %s: %w", key, stallCause(ctx, err))
	}
	if !v.eof || v.err != nil || (v.want >= 0 && v.n != v.want) {
		// The store accepted fewer bytes than the video has: never count it.
		_ = d.store.Delete(context.WithoutCancel(ctx), key)
		return stored{}, fmt.Errorf("store %s: accepted %d bytes before the body ended (declared %d)", key, v.n, v.want)
	}
	info, err := d.store.Stat(ctx, key)
	if err != nil {
		return stored{}, fmt.Errorf("verify %s: %w", key, err)
	}
	if info.Size != v.n {
		return stored{}, fmt.Errorf("verify %s: stored %d bytes, downloaded %d", key, info.Size, v.n)
	}
	return stored{size: v.n, sha256: hex.EncodeToString(v.h.Sum(nil))}, nil
}

// verifier hashes and counts the body as the store reads it, and turns a
// short or over-long body into an error the store must pass on.
type verifier struct {
	r      io.Reader
	h      hash.Hash
	want   int64 // -1 when unknown
	n      int64
	eof    bool
	err    error
	onRead func()
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if n > 0 {
		v.onRead()
	}
	switch {
	case v.want >= 0 && v.n > v.want:
		err = fmt.Errorf("body longer than its Content-Length %d", v.want)
	case err == io.EOF && v.want >= 0 && v.n < v.want:
		err = fmt.Errorf("short body: %d of %d bytes: %w", v.n, v.want, io.ErrUnexpectedEOF)
	case err == io.EOF:
		v.eof = true
		return n, err
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// stallCause reports a stall as such rather than as a bare cancellation.
func stallCause(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("%w: no byte moved for the stall timeout (%v)", errStalled, err)
	}
	return err
}

func noEOF(err error) error {
	if err == io.EOF {
		return fmt.Errorf("empty body: %w", io.ErrUnexpectedEOF)
	}
	return err
}

func isTextual(mediaType string) bool {
	return strings.HasPrefix(mediaType, "text/") || strings.HasSuffix(mediaType, "xml") ||
		strings.HasSuffix(mediaType, "json")
}

// snippet reads a little of an error body to say what the origin meant
// (an S3/TOS XML error code, an HTML title) without echoing much of it.
func snippet(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	s := printable(b)
	if i := strings.Index(s, "<Code>"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.TrimSpace(s)
}

func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f {
			return ' '
		}
		return r
	}, string(b))
}

// permanentStorage reports whether a store error is one the whole run must
// stop for (missing bucket, rejected credentials, full disk): retrying the
// next video would fail the same way.
func permanentStorage(err error) bool {
	var oe *originError
	var pe *policyError
	return retry.IsPermanent(err) && !errors.As(err, &oe) && !errors.As(err, &pe)
}
