// Package gateway speaks to the asynchronous video-generation gateway (a fork
// of the open-source new-api gateway in front of Volcengine Ark): it decodes
// task replies leniently, classifies every failure once at this boundary with
// the retry package, reads the expiry that a signed result URL carries, and
// redacts signed URLs before anything is logged or stored.
//
// The gateway is a third party that changes without notice and is sometimes
// fronted by CDNs and WAFs, so the package assumes every reply may be sloppy
// or hostile: a reply decodes unless it is genuinely unusable, and nothing it
// contains can make the package panic or leak a signature.
package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Status is a task's state as the gateway reports it, trimmed and
// upper-cased (the gateway's words are upper-case; a proxy that lower-cases
// them must not keep a finished task polling forever). Words outside the five
// constants below do occur (SUBMITTED, UNKNOWN, words added by a newer
// gateway); they are kept so the poller can keep polling and warn.
type Status string

// The statuses the gateway documents.
const (
	StatusNotStart   Status = "NOT_START"
	StatusQueued     Status = "QUEUED"
	StatusInProgress Status = "IN_PROGRESS"
	StatusSuccess    Status = "SUCCESS"
	StatusFailure    Status = "FAILURE"
)

// Terminal reports whether the gateway will never change the task again:
// SUCCESS (archive it) or FAILURE (record why). An unknown word is not
// terminal, so a task is never abandoned because the gateway grew a status.
func (s Status) Terminal() bool {
	return s == StatusSuccess || s == StatusFailure
}

// Known reports whether s is one of the five documented statuses.
func (s Status) Known() bool {
	switch s {
	case StatusNotStart, StatusQueued, StatusInProgress, StatusSuccess, StatusFailure:
		return true
	}
	return false
}

// Task is data of one reply, decoded leniently: numbers may have arrived as
// strings, strings as numbers, and any field may have been null or missing.
// Whatever could not be used is left zero; the raw reply (kept by the caller)
// remains the record of what the gateway actually said.
type Task struct {
	TaskID, Action                           string
	Status                                   Status
	ResultURL, OriginalResultURL, FailReason string
	SubmitTime, StartTime, FinishTime        int64 // unix seconds, 0 when absent or implausible
	Progress, RequestID                      string
	Upstream                                 Upstream // data.data; zero when absent/null

	// Warnings say what of the reply was not taken as sent: a time
	// outside any plausible range, a reply cut down to be kept. They are
	// for a log line, and name no secret.
	Warnings []string
}

// Upstream is the raw Ark task the gateway embeds as data.data. Only the
// fields reelvault cross-checks or records are decoded.
type Upstream struct {
	VideoURL                                             string // content.video_url
	ID, Model                                            string
	Duration                                             float64
	Ratio, Resolution, SuperResolution                   string
	FramesPerSecond                                      float64
	GenerateAudio                                        bool
	Seed                                                 int64
	Status                                               string
	CompletionTokens, TotalTokens, SuperResolutionTokens int64
}

// VideoURL returns result_url, falling back to data.content.video_url. An
// http(s) URL is preferred over a non-URL value in either field, so a sloppy
// result_url (a placeholder, a bare key) does not hide a usable upstream URL.
func (t *Task) VideoURL() string {
	for _, u := range []string{t.ResultURL, t.Upstream.VideoURL} {
		if isHTTPURL(u) {
			return u
		}
	}
	if t.ResultURL != "" {
		return t.ResultURL
	}
	return t.Upstream.VideoURL
}

// Failure returns fail_reason only when the task FAILED, with its secrets
// redacted (see RedactText): a gateway quotes signed URLs and tokens in it. On SUCCESS the
// gateway copies result_url into fail_reason for legacy clients; that copy is
// not an error and must not be recorded as one.
func (t *Task) Failure() string {
	if t.Status != StatusFailure {
		return ""
	}
	return t.FailReason
}

// wireEnvelope is the reply's outer shape. Besides the documented
// {"code","message","data"}, new-api answers some errors with an OpenAI-style
// {"error":{...}} object, which is decoded so its message is not lost.
type wireEnvelope struct {
	Code    lenientString   `json:"code"`
	Message lenientString   `json:"message"`
	Data    json.RawMessage `json:"data"`
	Error   json.RawMessage `json:"error"`
}

type wireError struct {
	Message lenientString `json:"message"`
	Type    lenientString `json:"type"`
	Code    lenientString `json:"code"`
}

type wireTask struct {
	TaskID            lenientString   `json:"task_id"`
	Action            lenientString   `json:"action"`
	Status            lenientString   `json:"status"`
	ResultURL         lenientString   `json:"result_url"`
	OriginalResultURL lenientString   `json:"original_result_url"`
	FailReason        lenientString   `json:"fail_reason"`
	SubmitTime        lenientInt      `json:"submit_time"`
	StartTime         lenientInt      `json:"start_time"`
	FinishTime        lenientInt      `json:"finish_time"`
	Progress          lenientString   `json:"progress"`
	RequestID         lenientString   `json:"request_id"`
	Data              json.RawMessage `json:"data"`
}

type wireUpstream struct {
	Content         json.RawMessage `json:"content"`
	ID              lenientString   `json:"id"`
	Model           lenientString   `json:"model"`
	Duration        lenientFloat    `json:"duration"`
	Ratio           lenientString   `json:"ratio"`
	Resolution      lenientString   `json:"resolution"`
	SuperResolution lenientString   `json:"super_resolution"`
	FramesPerSecond lenientFloat    `json:"framespersecond"`
	GenerateAudio   lenientBool     `json:"generate_audio"`
	Seed            lenientInt      `json:"seed"`
	Status          lenientString   `json:"status"`
	Usage           json.RawMessage `json:"usage"`
}

type wireContent struct {
	VideoURL lenientString `json:"video_url"`
}

type wireUsage struct {
	CompletionTokens      lenientInt `json:"completion_tokens"`
	TotalTokens           lenientInt `json:"total_tokens"`
	SuperResolutionTokens lenientInt `json:"super_resolution_tokens"`
}

// Decode parses one reply body (the envelope {"code","message","data"}).
//
// Times are checked against the clock: a submit_time, start_time or
// finish_time before 2000, or more than a week after now (a broken gateway,
// or an integer that overflows any calendar), is set to 0, as if absent, and
// a Warning says so. Taken as sent, one such value once made every later
// encode of the task fail. FailReason is redacted with RedactText.
//
// It fails only when the reply is unusable: not a single JSON object, no data
// object, or no status (ErrBadReply); or when the gateway says the task does
// not exist (ErrTaskNotFound, via *APIError) or reports another error
// (*APIError). A missing or null code with a usable data object is accepted,
// since the task in it is what matters. Decode never returns a nil task with
// a nil error.
func Decode(body []byte) (*Task, error) {
	return decode(body, nil, time.Now())
}

// decode is Decode with a scrub applied to every string of the reply, the
// gateway's error text before it is cleaned and capped; the client uses it to
// remove the API key whole, before a cap could leave a prefix of it in a
// message. now bounds the times.
func decode(body []byte, scrub func(string) string, now time.Time) (*Task, error) {
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	apiErr := func(code, msg string) *APIError {
		return newAPIError(scrub(code), scrub(msg))
	}
	body = trimBOM(body)
	var env wireEnvelope
	if !isObject(body) {
		return nil, badReply("not a JSON object")
	}
	if err := json.Unmarshal(body, &env); err != nil {
		// Only malformed JSON gets here: every field type accepts any value.
		return nil, badReply("malformed JSON: %v", err)
	}
	code, msg := strings.TrimSpace(string(env.Code)), string(env.Message)
	if code != "" && !strings.EqualFold(code, "success") {
		return nil, apiErr(code, msg)
	}
	if !isObject(env.Data) {
		if notFoundWord(msg) {
			return nil, apiErr(code, msg)
		}
		if isObject(env.Error) {
			var we wireError
			_ = json.Unmarshal(env.Error, &we) // cannot fail: lenient fields in a valid object
			c := string(we.Code)
			if c == "" {
				c = string(we.Type)
			}
			return nil, apiErr(c, string(we.Message))
		}
		return nil, badReply("no data object")
	}
	var w wireTask
	if err := json.Unmarshal(env.Data, &w); err != nil {
		return nil, badReply("malformed data: %v", err)
	}
	str := func(v lenientString) string { return scrub(string(v)) }
	status := Status(strings.ToUpper(strings.TrimSpace(str(w.Status))))
	if status == "" {
		return nil, badReply("no status")
	}
	t := &Task{
		TaskID:            strings.TrimSpace(str(w.TaskID)),
		Action:            str(w.Action),
		Status:            status,
		ResultURL:         strings.TrimSpace(str(w.ResultURL)),
		OriginalResultURL: strings.TrimSpace(str(w.OriginalResultURL)),
		FailReason:        RedactText(str(w.FailReason)),
		Progress:          str(w.Progress),
		RequestID:         str(w.RequestID),
	}
	t.SubmitTime = t.plausible("submit_time", int64(w.SubmitTime), now)
	t.StartTime = t.plausible("start_time", int64(w.StartTime), now)
	t.FinishTime = t.plausible("finish_time", int64(w.FinishTime), now)
	if isObject(w.Data) {
		t.Upstream = decodeUpstream(w.Data, str)
	}
	return t, nil
}

// maxClockAhead is how far after our clock a gateway's time may lie: a clock
// that is a few days slow still reads real times, and a time further ahead
// than this cannot be the moment a task was submitted or finished.
const maxClockAhead = 7 * 24 * time.Hour

// plausible returns a unix time from the reply, or 0 with a warning when it
// is before 2000 or more than maxClockAhead after now. Taken as sent, a time
// in year 3170843 became an expiry that no JSON encoder can write, and a
// time near 1970 would make a task look long overdue.
func (t *Task) plausible(name string, ts int64, now time.Time) int64 {
	if ts == 0 {
		return 0
	}
	if ts >= minPlausible && ts < maxPlausible && ts <= now.Add(maxClockAhead).Unix() {
		return ts
	}
	t.Warnings = append(t.Warnings, fmt.Sprintf(
		"%s %d is not a plausible time (before 2000 or more than a week ahead of our clock); treated as absent",
		name, ts))
	return 0
}

// decodeUpstream decodes data.data. Its nested objects are optional; a
// non-object where one is expected leaves those fields zero.
func decodeUpstream(raw json.RawMessage, str func(lenientString) string) Upstream {
	var w wireUpstream
	_ = json.Unmarshal(raw, &w) // cannot fail: lenient fields in a valid object
	u := Upstream{
		ID:              str(w.ID),
		Model:           str(w.Model),
		Duration:        float64(w.Duration),
		Ratio:           str(w.Ratio),
		Resolution:      str(w.Resolution),
		SuperResolution: str(w.SuperResolution),
		FramesPerSecond: float64(w.FramesPerSecond),
		GenerateAudio:   bool(w.GenerateAudio),
		Seed:            int64(w.Seed),
		Status:          str(w.Status),
	}
	if isObject(w.Content) {
		var c wireContent
		_ = json.Unmarshal(w.Content, &c)
		u.VideoURL = strings.TrimSpace(str(c.VideoURL))
	}
	if isObject(w.Usage) {
		var us wireUsage
		_ = json.Unmarshal(w.Usage, &us)
		u.CompletionTokens = int64(us.CompletionTokens)
		u.TotalTokens = int64(us.TotalTokens)
		u.SuperResolutionTokens = int64(us.SuperResolutionTokens)
	}
	return u
}

// trimBOM drops a UTF-8 byte order mark, which some proxies and Windows
// tools prepend and encoding/json rejects.
func trimBOM(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
}

// isObject reports whether raw holds a JSON object (it does not validate it).
func isObject(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")
}

// badReply builds an ErrBadReply with the reason the reply is unusable.
func badReply(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadReply, fmt.Sprintf(format, args...))
}

// errorObjectOnly reports whether body is new-api's OpenAI-style
// {"error":{...}} reply with no envelope code and no data: the shape its
// router gives an unknown path, as opposed to an answer about a task.
func errorObjectOnly(body []byte) bool {
	var env wireEnvelope
	if !isObject(body) || json.Unmarshal(body, &env) != nil {
		return false
	}
	return env.Code == "" && !isObject(env.Data) && isObject(env.Error)
}
