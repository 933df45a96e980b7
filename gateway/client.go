package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/reelvault/reelvault/retry"
)

const (
	// maxReplyBytes bounds a reply read into memory. A task reply is a few
	// KiB; anything near this size is a proxy misbehaving, not a task.
	maxReplyBytes = 4 << 20
	// defaultTimeout applies when NewClient gets no http.Client: without
	// one, a gateway that accepts the connection and never answers would
	// hang a poll forever.
	defaultTimeout = 30 * time.Second
	// maxRetryAfter bounds a Retry-After hint before it becomes a Duration,
	// so a hostile value cannot overflow; the poller caps waits far lower.
	maxRetryAfter = 24 * time.Hour
	// snippetBytes is how much of an unexpected body an error quotes.
	snippetBytes = 60
)

// Client polls tasks on one gateway with one API key. Make one with
// NewClient; it is then safe for concurrent use. It makes exactly one request per call: retries, pacing and
// the confirmation of a not-found belong to the caller, which decides with
// retry.ShouldRetry and retry.AfterOf on the returned error.
type Client struct {
	base    string // base URL without trailing slash
	baseErr error  // why base is unusable, returned by every call
	key     string
	hc      *http.Client
	now     func() time.Time // reads Retry-After dates; tests pin it
}

// NewClient: baseURL like "https://ai.example.com" (path prefix allowed),
// apiKey sent as "Authorization: Bearer". A nil hc gets a client with a 30 s
// timeout. Surrounding whitespace is trimmed from the key, since keys read
// from files and environment variables often end in a newline. An unusable
// baseURL is reported, as a permanent error, by every Task call.
//
// The client follows a redirect only to the base URL's own scheme, host and
// port: Go's default policy would send the key to any host of the same
// domain, and store what that host said. hc is copied, not changed; its own
// CheckRedirect, if any, still applies to the redirects allowed.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	own := http.Client{Timeout: defaultTimeout}
	if hc != nil {
		own = *hc
	}
	c := &Client{
		base: strings.TrimRight(strings.TrimSpace(baseURL), "/"),
		key:  strings.TrimSpace(apiKey),
		hc:   &own,
		now:  time.Now,
	}
	u, err := url.Parse(c.base)
	switch {
	case err != nil:
		c.baseErr = errors.New("gateway base URL does not parse")
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.RawQuery != "", u.Fragment != "":
		c.baseErr = fmt.Errorf("gateway base URL %s is not http(s)://host[/prefix]", RedactURL(c.base))
	default:
		own.CheckRedirect = sameOrigin(origin(u), own.CheckRedirect)
	}
	return c
}

// String names the gateway and never the key, so that logging a *Client
// with %v or %+v cannot leak it.
func (c *Client) String() string { return "gateway.Client(" + RedactURL(c.base) + ")" }

// GoString is String for %#v, which would otherwise print the key.
func (c *Client) GoString() string { return c.String() }

// Task GETs {baseURL}/v1/video/generations/{id} and returns the decoded task
// and the reply as kept, which is also returned with an error when one was
// read, for the caller to log through RedactReply. The reply as kept is the
// body with the API key removed from every string, escaped or not (the JSON
// is then re-encoded), containers nested deeper than 32 levels replaced by a
// string saying so, and, when it would be over 64 KiB indented, replaced by
// {"_reelvault_truncated":true,"bytes":N,"head":"..."}. The task is decoded
// from the scrubbed reply before that size cap, so a big reply still yields
// its task; Task.Warnings says what was cut, scrubbed or ignored.
//
// Errors name the task id and are classified for the retry package:
//   - 401/403: ErrKeyRejected, permanent;
//   - 404, or a task_not_exist body at any status: ErrTaskNotFound,
//     transient (one answer is not proof). A 404 whose body is an HTML page
//     or new-api's {"error":...} object comes from a route, not a task (a
//     base URL ending in /v1 does this), so it is ErrBadReply instead:
//     marking every task lost over a configuration error would be worse;
//   - 429, 5xx: transient, with retry.After when Retry-After is present;
//   - 2xx whose body is not a usable envelope, or is for another task, or
//     is over 4 MiB: ErrBadReply, transient, quoting a sanitized snippet;
//   - a redirect to another scheme, host or port: permanent, since the
//     base URL needs fixing, and nothing from that host is read;
//   - other statuses, the gateway's own error codes, network errors and
//     timeouts: transient;
//   - a done ctx: ctx.Err(), wrapped, so errors.Is(err, context.Canceled)
//     holds.
func (c *Client) Task(ctx context.Context, id string) (*Task, []byte, error) {
	t, raw, err := c.task(ctx, id)
	if err != nil {
		return nil, raw, fmt.Errorf("poll task %s: %w", id, err)
	}
	return t, raw, nil
}

func (c *Client) task(ctx context.Context, id string) (*Task, []byte, error) {
	if c.baseErr != nil {
		return nil, nil, retry.Permanent(c.baseErr)
	}
	if id == "" || id == "." || id == ".." {
		// PathEscape leaves dots alone; a path of "." or ".." would poll
		// some other resource.
		return nil, nil, retry.Permanent(errors.New("invalid task id"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.base+"/v1/video/generations/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, nil, retry.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "reelvault")

	resp, err := c.hc.Do(req)
	if err != nil {
		var re *redirectError
		switch {
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case errors.As(err, &re):
			return nil, nil, retry.Permanent(re)
		}
		return nil, nil, fmt.Errorf("request: %w", err) // net/http strips passwords from the URL it quotes
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, c.keep(body).stored, fmt.Errorf("read reply (HTTP %d): %w", resp.StatusCode, err)
	}
	r := reply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	if len(body) > maxReplyBytes {
		r.body = c.scrubBytes(body) // whole, before the snippet's cut could leave half the key
		return nil, nil, r.bad(badReply("larger than %d bytes", maxReplyBytes))
	}
	k := c.keep(body)
	r.body = k.json

	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, k.stored, retry.Permanent(c.keyRejected(r))
	case code == http.StatusNotFound:
		return nil, k.stored, c.notFound(r)
	case code == http.StatusTooManyRequests || code >= 500:
		err := c.statusError(r)
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
			err = retry.After(err, d)
		}
		return nil, k.stored, err
	case code < 200 || code > 299:
		return nil, k.stored, c.statusError(r)
	}

	t, err := decode(r.body, c.scrubKey, c.now())
	if err != nil {
		return nil, k.stored, r.explain(err)
	}
	switch t.TaskID {
	case id:
	case "":
		t.TaskID = id // a sloppy gateway omitted it; the request names the task
	default:
		return nil, k.stored, r.bad(badReply("reply is for task %q", clean(t.TaskID, 64)))
	}
	t.Warnings = append(k.warnings, t.Warnings...)
	return t, k.stored, nil
}

// reply is what an error may say about a response. body has the key scrubbed.
type reply struct {
	status      int
	contentType string
	body        []byte
}

// bad adds the status, content type and a snippet to an ErrBadReply, so a
// log shows which proxy or WAF answered.
func (r reply) bad(err error) error {
	return fmt.Errorf("%w (HTTP %d, content-type %q, body %q)",
		err, r.status, clean(r.contentType, snippetBytes), snippet(r.body, snippetBytes))
}

// explain adds what the response says to an error from decode.
func (r reply) explain(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.StatusCode = r.status
		return apiErr
	}
	if errors.Is(err, ErrBadReply) {
		return r.bad(err)
	}
	return err
}

// statusError describes a non-2xx reply: the gateway's own error when the
// body holds one (a task_not_exist one unwraps to ErrTaskNotFound), else the
// status and a snippet. It is transient unless the caller marks it.
func (c *Client) statusError(r reply) error {
	if _, err := decode(r.body, c.scrubKey, c.now()); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			apiErr.StatusCode = r.status
			return apiErr
		}
	}
	return fmt.Errorf("HTTP %d (content-type %q, body %q)",
		r.status, clean(r.contentType, snippetBytes), snippet(r.body, snippetBytes))
}

// notFound classifies a 404; see Task for why some 404s are not ErrTaskNotFound.
func (c *Client) notFound(r reply) error {
	err := c.statusError(r)
	if errors.Is(err, ErrTaskNotFound) {
		return err
	}
	if isPage(r.contentType, r.body) || errorObjectOnly(r.body) {
		return r.bad(badReply("a route's 404, not an answer about the task; check the gateway base URL"))
	}
	return fmt.Errorf("%w: %w", ErrTaskNotFound, err)
}

// keyRejected builds the 401/403 error. The gateway's message says whether
// the key is invalid, exhausted or IP-restricted, so it is kept, with the key
// scrubbed out in case the gateway echoes it.
func (c *Client) keyRejected(r reply) error {
	detail := snippet(r.body, snippetBytes)
	var apiErr *APIError
	if _, err := decode(r.body, c.scrubKey, c.now()); errors.As(err, &apiErr) {
		detail = apiErr.Message
	}
	if detail == "" {
		return fmt.Errorf("%w (HTTP %d)", ErrKeyRejected, r.status)
	}
	return fmt.Errorf("%w (HTTP %d): %s", ErrKeyRejected, r.status, detail)
}

// scrubKey removes the API key from text that came from the gateway.
func (c *Client) scrubKey(s string) string {
	if c.key == "" {
		return s
	}
	return strings.ReplaceAll(s, c.key, "REDACTED")
}

func (c *Client) scrubBytes(b []byte) []byte {
	if c.key == "" || !bytes.Contains(b, []byte(c.key)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(c.key), []byte("REDACTED"))
}

// isPage reports whether a body is an HTML or XML page rather than JSON.
func isPage(contentType string, body []byte) bool {
	ct := strings.ToLower(contentType)
	if strings.Contains(ct, "html") || strings.Contains(ct, "xml") {
		return true
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '<'
}

// retryAfter parses a Retry-After header, delta-seconds or HTTP-date, into a
// positive wait bounded by maxRetryAfter.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, ok := digits(v); ok {
		d = maxRetryAfter
		if secs < int64(maxRetryAfter/time.Second) {
			d = time.Duration(secs) * time.Second
		}
	} else if at, err := http.ParseTime(v); err == nil {
		d = min(at.Sub(now), maxRetryAfter)
	} else if len(v) > 18 && strings.Trim(v, "0123456789") == "" {
		d = maxRetryAfter // delta-seconds too long for int64
	}
	return d, d > 0
}
