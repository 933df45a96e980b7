package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reelvault/reelvault/retry"
)

// The dashboard's task listing, GET {base}/api/task/self, is how reelvault
// finds tasks that never passed through it (created from the gateway's web
// playground, a teammate's script, an app). It is not the API that task
// polling uses: it takes the account's access token (dashboard settings),
// not the API key, and the account's numeric id in New-Api-User (older
// gateway versions require it; newer ones ignore it). Its reply is
// {"success","message","data":{"page","page_size","total","items"}}, and an
// unknown token may answer HTTP 200 with success false, so success is always
// checked. A reseller may not expose the route at all.

// The listing's sentinels, for errors.Is. Both come wrapped in
// retry.Permanent: asking again with the same token or at the same base URL
// cannot help.
var (
	// ErrTokenRejected means the gateway refused the access token or the
	// user id (401, 403, or 200 with success false).
	ErrTokenRejected = errors.New("gateway rejected the access token")
	// ErrNoListing means the gateway does not serve the listing: 404, an
	// HTML page, or a body that is not the dashboard's reply shape.
	ErrNoListing = errors.New("gateway has no task listing (GET /api/task/self)")
)

// MaxListPageSize is the largest page the gateway serves.
const MaxListPageSize = 100

// ListQuery selects one page of the account's tasks whose submit time lies
// in [From, To] (each bound ignored when zero), newest first.
type ListQuery struct {
	Page     int // 1-based
	PageSize int // 1..MaxListPageSize
	From, To time.Time
}

// ListedTask is one row of the listing. The poll of the task stays the
// record of it; the listing only says that it exists.
type ListedTask struct {
	TaskID, Platform, Action, Status string
	SubmitTime                       int64 // unix seconds, 0 when absent
}

// TaskPage is one page of the listing.
type TaskPage struct {
	Items []ListedTask
	Total int // all rows that match the query, as the gateway counts them
}

// Dashboard lists the account's tasks with one access token. Make one with
// NewDashboard; it is then safe for concurrent use. Like Client, it makes
// one request per call.
type Dashboard struct {
	// c holds the base URL, the token (as its key, so the client's scrubs
	// remove it from gateway text) and the same-origin HTTP client.
	c      *Client
	userID string
}

// NewDashboard: baseURL as for NewClient; userID 0 sends no New-Api-User.
// A nil hc gets a 30 s timeout. Redirects to another origin are refused (as
// NewClient does), so the token never reaches a host other than the gateway.
func NewDashboard(baseURL, accessToken string, userID int64, hc *http.Client) *Dashboard {
	d := &Dashboard{c: NewClient(baseURL, accessToken, hc)}
	if userID != 0 {
		d.userID = strconv.FormatInt(userID, 10)
	}
	return d
}

// String names the gateway and never the token.
func (d *Dashboard) String() string { return "gateway.Dashboard(" + RedactURL(d.c.base) + ")" }

// GoString is String for %#v.
func (d *Dashboard) GoString() string { return d.String() }

// ListTasks fetches one page. Errors are classified: ErrTokenRejected and
// ErrNoListing permanent; 429 and 5xx transient with retry.After when the
// gateway says; anything else unexpected (a WAF page on a 200, malformed
// JSON) transient ErrBadReply. No error and no log line carries the token.
func (d *Dashboard) ListTasks(ctx context.Context, q ListQuery) (TaskPage, error) {
	p, err := d.list(ctx, q)
	if err != nil {
		return TaskPage{}, fmt.Errorf("list tasks (page %d): %w", q.Page, err)
	}
	return p, nil
}

func (d *Dashboard) list(ctx context.Context, q ListQuery) (TaskPage, error) {
	if d.c.baseErr != nil {
		return TaskPage{}, retry.Permanent(d.c.baseErr)
	}
	if d.c.key == "" {
		return TaskPage{}, retry.Permanent(fmt.Errorf("%w: no access token configured", ErrTokenRejected))
	}
	v := url.Values{}
	v.Set("p", strconv.Itoa(max(q.Page, 1)))
	v.Set("page_size", strconv.Itoa(min(max(q.PageSize, 1), MaxListPageSize)))
	if !q.From.IsZero() {
		v.Set("start_timestamp", strconv.FormatInt(q.From.Unix(), 10))
	}
	if !q.To.IsZero() {
		v.Set("end_timestamp", strconv.FormatInt(q.To.Unix(), 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.c.base+"/api/task/self?"+v.Encode(), nil)
	if err != nil {
		return TaskPage{}, retry.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+d.c.key)
	if d.userID != "" {
		req.Header.Set("New-Api-User", d.userID)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "reelvault")
	resp, err := d.c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return TaskPage{}, ctx.Err()
		}
		return TaskPage{}, fmt.Errorf("request: %w", err) // the token is in a header, never in the URL quoted
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return TaskPage{}, ctx.Err()
		}
		return TaskPage{}, fmt.Errorf("read reply (HTTP %d): %w", resp.StatusCode, err)
	}
	body = d.c.scrubBytes(body)
	r := reply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}
	if len(body) > maxReplyBytes {
		return TaskPage{}, r.bad(badReply("larger than %d bytes", maxReplyBytes))
	}
	var w wireListing
	decoded := isObject(body) && json.Unmarshal(body, &w) == nil && w.Success != nil
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return TaskPage{}, retry.Permanent(d.refused(code, w.Message))
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return TaskPage{}, retry.Permanent(r.bad(ErrNoListing))
	case code == http.StatusTooManyRequests || code >= 500:
		err := fmt.Errorf("HTTP %d (content-type %q, body %q)", code, clean(r.contentType, snippetBytes), snippet(body, snippetBytes))
		if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			err = retry.After(err, ra)
		}
		return TaskPage{}, err
	case code < 200 || code > 299:
		return TaskPage{}, fmt.Errorf("HTTP %d (content-type %q, body %q)", code, clean(r.contentType, snippetBytes), snippet(body, snippetBytes))
	case isPage(r.contentType, body):
		// A 200 page: a CDN challenge (transient) or the web UI's catch-all
		// route of a gateway without the API. The UI's index page has a
		// <title> and a script; a challenge names itself. Both are told
		// apart by the caller's persistence, not here: one page is
		// transient, as on the poll path.
		return TaskPage{}, r.bad(badReply("an HTML page, not the listing"))
	case !decoded:
		return TaskPage{}, r.bad(badReply("not the dashboard's reply shape"))
	case !bool(*w.Success):
		return TaskPage{}, retry.Permanent(d.refused(code, w.Message))
	}
	var page wirePage
	if !isObject(w.Data) || json.Unmarshal(w.Data, &page) != nil {
		return TaskPage{}, r.bad(badReply("no data object"))
	}
	out := TaskPage{Total: int(page.Total)}
	var times Task // collects nothing we keep: implausible submit times become 0
	now := time.Now()
	if out.Total < 0 {
		out.Total = 0
	}
	for _, raw := range page.Items {
		var it wireListedTask
		if !isObject(raw) || json.Unmarshal(raw, &it) != nil {
			continue
		}
		id := strings.TrimSpace(string(it.TaskID))
		if id == "" {
			continue
		}
		out.Items = append(out.Items, ListedTask{
			TaskID: id, Platform: strings.TrimSpace(string(it.Platform)), Action: strings.TrimSpace(string(it.Action)),
			Status:     strings.ToUpper(strings.TrimSpace(string(it.Status))),
			SubmitTime: times.plausible("submit_time", int64(it.SubmitTime), now),
		})
	}
	return out, nil
}

// refused builds the ErrTokenRejected error with the gateway's own words,
// which say what is wrong (no token, invalid token, wrong user id).
func (d *Dashboard) refused(status int, msg lenientString) error {
	m := clean(d.c.scrubKey(string(msg)), 200)
	if m == "" {
		return fmt.Errorf("%w (HTTP %d)", ErrTokenRejected, status)
	}
	return fmt.Errorf("%w (HTTP %d): %s", ErrTokenRejected, status, m)
}

type wireListing struct {
	Success *lenientBool    `json:"success"`
	Message lenientString   `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type wirePage struct {
	Total lenientInt        `json:"total"`
	Items []json.RawMessage `json:"items"`
}

type wireListedTask struct {
	TaskID     lenientString `json:"task_id"`
	Platform   lenientString `json:"platform"`
	Action     lenientString `json:"action"`
	Status     lenientString `json:"status"`
	SubmitTime lenientInt    `json:"submit_time"`
}
