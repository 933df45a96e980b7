package simulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Faults are the probabilities, each from 0 to 1, that one request meets a
// kind of misbehaviour from the network between reelvault and the gateway
// or the stores. Every request rolls anew with the seeded generator, so
// faults are transient: a client that retries eventually gets through. The
// kinds are tried in the order of the fields, each with its own roll, and the
// first hit wins; one request meets at most one fault.
type Faults struct {
	// On GET and POST /v1/...:
	API5xx       float64 // 500, 502 or 503, with a JSON or a plain-text body
	API429       float64 // 429; half carry Retry-After, half do not
	APIHTML      float64 // 200 text/html: a CDN challenge page instead of JSON
	APITruncated float64 // the real reply, JSON cut in half (Content-Length matches the cut body)
	APIReset     float64 // the connection is reset before any reply

	// On video downloads (/tos/..., /vod/...):
	Media5xx       float64 // 500, 502 or 503, with an XML or a plain-text body
	MediaTruncated float64 // full Content-Length declared, body stops early, connection closed
	MediaReset     float64 // headers and part of the body, then the connection is reset
	MediaHTML      float64 // 200 text/html: a proxy page instead of the video
	MediaSlow      float64 // the body in 32 KiB chunks, SlowChunkDelay apart

	// RetryAfter is the Retry-After sent with 429s (0 means 1s; rounded up
	// to whole seconds).
	RetryAfter time.Duration
	// SlowChunkDelay is the wait between 32 KiB chunks of a slow body (0 means
	// 100ms). It is a real wait, the one place the simulator spends wall time;
	// it ends as soon as the request's context is cancelled.
	SlowChunkDelay time.Duration
}

type faultKind int

const (
	noFault faultKind = iota
	fault5xx
	fault429
	faultHTML
	faultTruncated
	faultReset
	faultSlow
)

const slowChunk = 32 << 10

// fault is the outcome of one request's roll: a kind, a random number to
// pick its variant (status code, header or not, where to cut), and the
// Faults in force when it was rolled.
type fault struct {
	kind    faultKind
	variant uint64
	cfg     Faults
}

type faultOdds struct {
	p    float64
	kind faultKind
}

// rollFault rolls the faults of an API (media false) or a media request.
func (s *Server) rollFault(media bool) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	table := []faultOdds{{f.API5xx, fault5xx}, {f.API429, fault429}, {f.APIHTML, faultHTML},
		{f.APITruncated, faultTruncated}, {f.APIReset, faultReset}}
	if media {
		table = []faultOdds{{f.Media5xx, fault5xx}, {f.MediaTruncated, faultTruncated},
			{f.MediaReset, faultReset}, {f.MediaHTML, faultHTML}, {f.MediaSlow, faultSlow}}
	}
	for _, c := range table {
		if c.p > 0 && s.faultRNG.Float64() < c.p {
			return fault{kind: c.kind, variant: s.faultRNG.Uint64(), cfg: f}
		}
	}
	return fault{}
}

// serverErrors are the 5xx statuses a fault picks from.
var serverErrors = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

// writeAPI writes an API fault that replaces the reply, and reports whether
// it did. Truncation is not handled here: it needs the real reply.
func (f fault) writeAPI(w http.ResponseWriter) bool {
	switch f.kind {
	case fault5xx:
		status := serverErrors[f.variant%3]
		if f.variant>>8&1 == 0 {
			writeJSON(w, status, map[string]any{"error": map[string]string{
				"message": "upstream error: do request failed", "type": "new_api_error"}})
		} else {
			writeText(w, status, "text/plain; charset=utf-8", strconv.Itoa(status)+" "+http.StatusText(status)+"\n")
		}
	case fault429:
		if f.variant&1 == 0 {
			secs := max(int64((f.cfg.RetryAfter+time.Second-1)/time.Second), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		if f.variant>>1&1 == 0 {
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]string{
				"message": "rate limit exceeded, please try again later", "type": "new_api_error"}})
		} else {
			writeText(w, http.StatusTooManyRequests, "text/plain; charset=utf-8", "")
		}
	case faultHTML:
		writeText(w, http.StatusOK, "text/html; charset=utf-8", challengePage)
	case faultReset:
		resetConnection(w)
	default:
		return false
	}
	return true
}

// writeMedia writes a media fault that replaces the whole reply, and reports
// whether it did. Faults that damage the body are left to bodyWriter.
func (f fault) writeMedia(w http.ResponseWriter) bool {
	switch f.kind {
	case fault5xx:
		status := serverErrors[f.variant%3]
		if f.variant>>8&1 == 0 {
			writeText(w, status, "application/xml", xmlError(&denial{status, "InternalError",
				"We encountered an internal error. Please try again."}, ""))
		} else {
			writeText(w, status, "text/plain; charset=utf-8", strconv.Itoa(status)+" "+http.StatusText(status)+"\n")
		}
	case faultHTML:
		writeText(w, http.StatusOK, "text/html; charset=utf-8", proxyPage)
	default:
		return false
	}
	return true
}

// bodyWriter returns w wrapped so that the body suffers f (truncation, reset
// or slowness), or w itself when f leaves the body alone.
func (f fault) bodyWriter(ctx context.Context, w http.ResponseWriter) http.ResponseWriter {
	fw := &faultWriter{ResponseWriter: w, ctx: ctx, cut: -1}
	switch f.kind {
	case faultTruncated, faultReset:
		fw.cutAt = 0.25 + 0.5*float64(f.variant>>16&0xffff)/0x10000 // a quarter to three quarters in
		fw.reset = f.kind == faultReset
	case faultSlow:
		fw.delay = f.cfg.SlowChunkDelay
		if fw.delay <= 0 {
			fw.delay = 100 * time.Millisecond
		}
	default:
		return w
	}
	return fw
}

var errCut = errors.New("simulator: body cut by a fault")

// faultWriter damages a response body as http.ServeContent writes it, so
// faults combine with Range requests and HEAD for free. It deliberately
// hides io.ReaderFrom, so every write passes through Write.
type faultWriter struct {
	http.ResponseWriter
	ctx     context.Context
	cutAt   float64 // share of Content-Length to let through; 0 = no cut
	cut     int64   // bytes to let through, from cutAt; -1 until known
	reset   bool
	delay   time.Duration // between chunks; 0 = none
	written int64
}

func (fw *faultWriter) Write(p []byte) (int, error) {
	if fw.cutAt > 0 && fw.cut < 0 {
		n, _ := strconv.ParseInt(fw.Header().Get("Content-Length"), 10, 64)
		fw.cut = int64(float64(n) * fw.cutAt)
	}
	done := 0
	for len(p) > 0 {
		chunk := p
		if fw.delay > 0 {
			chunk = chunk[:min(len(chunk), slowChunk)]
			if fw.written > 0 && !fw.wait() {
				return done, fw.ctx.Err()
			}
		}
		if fw.cut >= 0 && fw.written+int64(len(chunk)) > fw.cut {
			n, _ := fw.ResponseWriter.Write(chunk[:fw.cut-fw.written])
			_ = http.NewResponseController(fw.ResponseWriter).Flush()
			if fw.reset {
				resetConnection(fw.ResponseWriter)
			}
			// Returning short makes the server close the connection: the
			// client sees fewer bytes than Content-Length promised.
			return done + n, errCut
		}
		n, err := fw.ResponseWriter.Write(chunk)
		done += n
		fw.written += int64(n)
		if err != nil {
			return done, err
		}
		if fw.delay > 0 {
			_ = http.NewResponseController(fw.ResponseWriter).Flush()
		}
		p = p[len(chunk):]
	}
	return done, nil
}

// wait sleeps for the chunk delay and reports false if the request's
// context ends first.
func (fw *faultWriter) wait() bool {
	t := time.NewTimer(fw.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-fw.ctx.Done():
		return false
	}
}

// resetConnection drops the connection with a TCP reset, as a crashing proxy
// does, so the client sees "connection reset by peer" rather than a clean
// end of stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2 or a test recorder: abort the stream instead
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func writeText(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

const challengePage = `<!DOCTYPE html>
<html lang="en-US"><head><title>Just a moment...</title></head>
<body><h1>Checking your browser before accessing the site.</h1>
<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>
<p>Ray ID: 8f1c2a3b4d5e6f70</p></body></html>
`

const proxyPage = `<!DOCTYPE html>
<html><head><title>Access Denied</title></head>
<body><h1>Access Denied</h1><p>The requested URL was rejected. Please consult with your administrator.</p>
<p>Your support ID is: 1837465920183746</p></body></html>
`
