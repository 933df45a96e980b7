package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/mp4"
	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// Causes that end a transfer early; each is transient (the video is tried
// again later) and each frees the transfer slot.
var (
	// errStalled: no byte moved for the stall timeout.
	errStalled = errors.New("transfer stalled")
	// errTooSlow: bytes move, but slower on average than the minimum rate,
	// as when an origin dribbles a byte every few seconds.
	errTooSlow = errors.New("transfer too slow")
	// errPastExpiry: the transfer ran past its URL's expiry and the grace
	// after it, the longest any transfer may take.
	errPastExpiry = errors.New("transfer ran past its URL's expiry")
)

// tooLargeError is a video over archive.max_video_bytes: a permanent error
// for that video, whatever its origin says next time.
type tooLargeError struct {
	limit  int64
	detail string
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("video larger than archive.max_video_bytes (%d bytes): %s", e.limit, e.detail)
}

// limits bound every transfer.
type limits struct {
	stall      time.Duration // no byte for this long aborts
	maxBytes   int64         // a body beyond this is refused; <= 0: no cap
	minRate    int64         // bytes per second, averaged over rateWindow; <= 0: off
	rateWindow time.Duration
}

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

// stored describes a verified copy, and what its MP4 boxes say.
type stored struct {
	size     int64
	sha256   string
	media    mp4.Info
	mediaErr error // the file's boxes could not be read; the copy is still exact
}

// downloader streams videos from signed URLs into a store, verifying them on
// the way. It never holds a whole video in memory or on local disk.
type downloader struct {
	client *http.Client
	store  storage.Store
	limits limits
	// moving counts transfers in flight and the bytes they have read so
	// far, for progress displays.
	moving, moved atomic.Int64
	policy        urlPolicy
}

func newDownloader(store storage.Store, lim limits, policy urlPolicy) *downloader {
	d := &downloader{store: store, limits: lim, policy: policy}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Every connection goes through the policy's dialer, which refuses
	// private addresses after DNS. A proxy from the environment would be
	// dialled instead of the origin and hide the origin's address from that
	// check, so downloads connect directly.
	transport.Proxy = nil
	transport.DialContext = policy.dialer().DialContext
	// No fixed total timeout: a 2 GiB video may take long. The stall timer,
	// the minimum rate and the caller's deadline (the URL's expiry) catch a
	// dead or dribbling origin instead, and the header timeout a silent one.
	transport.ResponseHeaderTimeout = lim.stall
	transport.MaxIdleConnsPerHost = 16
	d.client = &http.Client{Transport: transport, CheckRedirect: policy.checkRedirect}
	return d
}

// fetch streams src into the store under key and returns what was stored,
// verified: HTTP 200, an MP4 body (ftyp box first), every byte of the
// declared length, and the stored object's size equal to the bytes read.
// A deadline on ctx whose cause is errPastExpiry is reported as such.
func (d *downloader) fetch(ctx context.Context, src, key string, opts storage.PutOptions) (stored, error) {
	u, err := url.Parse(src)
	if err != nil {
		return stored{}, &policyError{reason: "unparseable url"}
	}
	if err := d.policy.check(u); err != nil {
		return stored{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(d.limits.stall, func() { cancel(errStalled) })
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
		return stored{}, fmt.Errorf("download: %w", abortCause(ctx, redactURLError(err)))
	}
	defer resp.Body.Close()
	stall.Reset(d.limits.stall) // the headers moved; the body gets a full stall timeout
	if resp.StatusCode != http.StatusOK {
		return stored{}, &originError{status: resp.StatusCode, detail: snippet(resp)}
	}
	if max := d.limits.maxBytes; max > 0 && resp.ContentLength > max {
		// Refused before a byte of the body is read.
		return stored{}, &tooLargeError{limit: max, detail: fmt.Sprintf("Content-Length %d", resp.ContentLength)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); isTextual(mt) {
		return stored{}, fmt.Errorf("origin sent %s instead of a video: %s", mt, snippet(resp))
	}
	// Read the first box header ourselves rather than through a bufio
	// Reader: every later read would otherwise be copied once more.
	head := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		return stored{}, fmt.Errorf("read video header: %w", abortCause(ctx, noEOF(err)))
	}
	body := io.MultiReader(bytes.NewReader(head), resp.Body)
	if string(head[4:8]) != "ftyp" {
		return stored{}, fmt.Errorf("body is not an MP4 (starts %q)", printable(head))
	}
	probe := &mp4.Probe{}
	rate := rateCheck{min: d.limits.minRate, window: d.limits.rateWindow, start: time.Now()}
	v := &verifier{r: body, probe: probe, want: resp.ContentLength, max: d.limits.maxBytes, onRead: func(n int) {
		stall.Reset(d.limits.stall)
		d.moved.Add(int64(n))
		if err := rate.add(n, time.Now()); err != nil {
			cancel(err)
		}
	}}
	d.moving.Add(1)
	defer func() { d.moving.Add(-1); d.moved.Add(-v.n) }()
	// A driver that hashes the body to sign its upload hands that digest
	// back: one SHA-256 pass per video instead of two. Other drivers get
	// ours, computed as the bytes go by.
	var res storage.PutResult
	if hp, ok := d.store.(storage.HashingPutter); ok {
		res, err = hp.PutSHA256(ctx, key, v, resp.ContentLength, opts)
	} else {
		v.h = sha256.New()
		err = d.store.Put(ctx, key, v, resp.ContentLength, opts)
		if err == nil {
			v.h.Sum(res.SHA256[:0])
		}
	}
	if err != nil {
		if v.err != nil {
			err = v.err // the download failed first; the store only passed it on
		}
		return stored{}, fmt.Errorf("store %s: %w", key, abortCause(ctx, err))
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
	media, mediaErr := probe.Result()
	return stored{size: v.n, sha256: hex.EncodeToString(res.SHA256[:]), media: media, mediaErr: mediaErr}, nil
}

// verifier hashes and counts the body as the store reads it, feeds it to
// the MP4 probe, and turns a short or over-long body into an error the store
// must pass on.
type verifier struct {
	r      io.Reader
	h      hash.Hash
	probe  io.Writer // never fails
	want   int64     // -1 when unknown
	max    int64     // more bytes than this is an error; <= 0: no cap
	n      int64
	eof    bool
	err    error
	onRead func(n int)
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if v.h != nil {
		v.h.Write(p[:n])
	}
	v.probe.Write(p[:n])
	v.n += int64(n)
	if n > 0 {
		v.onRead(n)
	}
	switch {
	case v.want >= 0 && v.n > v.want:
		err = fmt.Errorf("body longer than its Content-Length %d", v.want)
	case v.max > 0 && v.n > v.max:
		// Only a body without a Content-Length gets here: fetch refused a
		// declared length over the cap before reading.
		err = &tooLargeError{limit: v.max, detail: "the body, sent without a Content-Length, went past it"}
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

// redactURLError strips the signed URL that net/http quotes in its errors
// (a *url.Error names the URL of the last hop): the signature must not reach
// a log or the catalog's last_error.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s %s: %w", ue.Op, gateway.RedactURL(ue.URL), ue.Err)
}

// abortCause reports a transfer ended by a stall, a too slow rate or the
// URL's expiry as such, rather than as a bare cancellation.
func abortCause(ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStalled):
		return fmt.Errorf("%w: no byte moved for the stall timeout (%v)", errStalled, err)
	case errors.Is(cause, errTooSlow), errors.Is(cause, errPastExpiry):
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}

// rateCheck fails a transfer whose average rate over a window falls below
// min bytes per second. Windows start afresh after each that passed, so a
// burst early on cannot carry a dribble later.
type rateCheck struct {
	min    int64
	window time.Duration
	start  time.Time
	n      int64 // bytes since start
}

func (r *rateCheck) add(n int, now time.Time) error {
	if r.min <= 0 || r.window <= 0 {
		return nil
	}
	r.n += int64(n)
	took := now.Sub(r.start)
	if took < r.window {
		return nil
	}
	if r.n < int64(float64(r.min)*took.Seconds()) {
		return fmt.Errorf("%w: %d bytes in %v, under archive.min_bytes_per_second (%d bytes/s)",
			errTooSlow, r.n, took.Round(time.Millisecond), r.min)
	}
	r.start, r.n = now, 0
	return nil
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
	var te *tooLargeError
	return retry.IsPermanent(err) && !errors.As(err, &oe) && !errors.As(err, &pe) && !errors.As(err, &te)
}

// mediaCheck compares what a stored video's own boxes say with the task
// record: the duration within half a second, and the short side of the frame
// with the resolution's number (for super-resolution tasks the result is
// compared with super_resolution, the original with resolution). It returns
// "ok", what differs, or "unreadable: ..."; a mismatch is recorded, never a
// reason to refuse a copy that is byte-exact.
func mediaCheck(t catalog.Task, kind string, res stored) string {
	if res.mediaErr != nil {
		return "unreadable: " + res.mediaErr.Error()
	}
	m := res.media
	var diffs []string
	if t.Duration > 0 && math.Abs(m.Duration-t.Duration) > 0.5 {
		diffs = append(diffs, fmt.Sprintf("duration %.1fs, task says %gs", m.Duration, t.Duration))
	}
	name := t.Resolution
	if kind == catalog.KindResult && t.SuperResolution != "" {
		name = t.SuperResolution
	}
	if want, ok := shortSide(name); ok {
		side, got := "height", m.Height
		if m.Width < m.Height {
			side, got = "width", m.Width
		}
		switch {
		case m.Width == 0 || m.Height == 0:
			diffs = append(diffs, fmt.Sprintf("no video track, task says %s", name))
		case got != want:
			diffs = append(diffs, fmt.Sprintf("%s %d, task says %s", side, got, name))
		}
	}
	if len(diffs) == 0 {
		return "ok"
	}
	return strings.Join(diffs, "; ")
}

// shortSide maps a resolution name to the frame's short side in pixels:
// "720p" is 720, "2k" 1440, "4k" 2160. Other names cannot be checked.
func shortSide(res string) (int, bool) {
	switch r := strings.ToLower(strings.TrimSpace(res)); {
	case r == "2k":
		return 1440, true
	case r == "4k":
		return 2160, true
	case strings.HasSuffix(r, "p"):
		n, err := strconv.Atoi(strings.TrimSuffix(r, "p"))
		return n, err == nil && n > 0
	}
	return 0, false
}
