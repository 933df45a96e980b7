package main

import (
	"net/http"
	"strings"

	"golang.org/x/time/rate"
)

// throttleChunk is the most a throttled response writes at once: small
// enough that the pace is smooth at a few MiB/s, large enough that the
// origin's own CPU stays negligible.
const throttleChunk = 64 << 10

// throttleMedia limits every video response of h to bytesPerSec, as a CDN
// or a long-haul link limits one TCP connection: each response (one
// connection at a time serves one) gets its own token bucket, so N
// concurrent downloads move at most N times the rate. API replies are not
// throttled.
func throttleMedia(h http.Handler, bytesPerSec int64) http.Handler {
	if bytesPerSec <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".mp4") {
			h.ServeHTTP(w, r)
			return
		}
		lim := rate.NewLimiter(rate.Limit(bytesPerSec), throttleChunk)
		h.ServeHTTP(&throttledWriter{ResponseWriter: w, r: r, lim: lim}, r)
	})
}

// throttledWriter paces Write. It hides the ResponseWriter's ReadFrom, so
// http.ServeContent's copy goes through Write.
type throttledWriter struct {
	http.ResponseWriter
	r   *http.Request
	lim *rate.Limiter
}

func (t *throttledWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), throttleChunk)]
		if err := t.lim.WaitN(t.r.Context(), len(chunk)); err != nil {
			return done, err
		}
		n, err := t.ResponseWriter.Write(chunk)
		done += n
		if err != nil {
			return done, err
		}
		p = p[len(chunk):]
	}
	return done, nil
}
