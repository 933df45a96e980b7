package gateway

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The sentinels callers branch on with errors.Is. Client.Task classifies them
// for the retry package: ErrKeyRejected comes wrapped in retry.Permanent;
// ErrTaskNotFound and ErrBadReply are transient.
var (
	// ErrKeyRejected means the gateway answered 401 or 403: the API key is
	// bad, expired or out of quota, or the caller is banned. Retrying cannot
	// help, and no task may be marked lost because of it.
	ErrKeyRejected = errors.New("gateway rejected the API key")

	// ErrTaskNotFound means the gateway says the id is unknown to it (or
	// belongs to another account). One such answer is not proof: the poller
	// confirms it several times before giving a task up.
	ErrTaskNotFound = errors.New("task not found on the gateway")

	// ErrBadReply means the body is not the documented envelope: a proxy or
	// WAF page, a truncated body, a reply for another task. It is transient.
	ErrBadReply = errors.New("bad gateway reply")
)

// APIError is the gateway's own error reply: an envelope whose code is not
// "success", or new-api's {"error":{...}} object. It unwraps to
// ErrTaskNotFound when the code or message is task_not_exist, so callers need
// only errors.Is. Code and Message are sanitized (control characters removed,
// URL secrets redacted, length capped) because they come from a third party
// and end up in logs.
type APIError struct {
	StatusCode int    // HTTP status; 0 when decoded without one (Decode)
	Code       string // the envelope's code, or the error object's code or type
	Message    string
}

func newAPIError(code, msg string) *APIError {
	return &APIError{Code: clean(code, 64), Message: clean(msg, 200)}
}

// Error reads like `gateway error "fail_to_fetch_task" (HTTP 500): upstream timeout`.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway error %q", e.Code)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns ErrTaskNotFound for the gateway's task_not_exist answer,
// whatever HTTP status carried it (typically 400), and nil otherwise.
func (e *APIError) Unwrap() error {
	if e.NotFound() {
		return ErrTaskNotFound
	}
	return nil
}

// NotFound reports whether the gateway said task_not_exist, in the code or,
// as some forks do, only in the message.
func (e *APIError) NotFound() bool {
	return strings.EqualFold(e.Code, "task_not_exist") || notFoundWord(e.Message)
}

func notFoundWord(s string) bool {
	return strings.Contains(strings.ToLower(s), "task_not_exist")
}

// clean makes third-party text safe to put in an error or a log line: invalid
// UTF-8 and control characters go (they forge log lines and confuse
// terminals), signed URLs are redacted, and the result is capped at max bytes
// so a 4 MiB page cannot flood a log.
func clean(s string, max int) string {
	if len(s) > 4*max {
		s = s[:4*max] // enough to redact a URL that straddles max
	}
	// Control characters go before redaction, so one planted inside a
	// signature cannot end the URL early and leave the signature's tail.
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return capBytes(redactText(s), max)
}

// snippet is the first n bytes of a body, cleaned, for an error message that
// must show what a proxy sent without quoting it whole.
func snippet(body []byte, n int) string {
	if len(body) > n {
		body = body[:n]
	}
	return clean(string(body), 2*n)
}

// capBytes cuts s to at most max bytes on a rune boundary, marking the cut.
func capBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
