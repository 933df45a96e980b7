package simulator

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
)

// The dashboard's task listing, GET /api/task/self, as the open-source
// gateway serves it to its web UI. It is a different API from /v1/: it takes
// the account's access token (not the API key) and the account's numeric id
// in New-Api-User, and answers {"success","message","data"} rather than the
// task envelope. Its quirks are reproduced because a client must survive
// them: an unknown token gets HTTP 200 with success false, the page size is
// capped at 100, and items come newest first by offset, with no cursor, so a
// task created while a client pages shifts every later page by one.

const (
	defaultAccessToken = "sim-access-token"
	defaultUserID      = 1
	maxListPageSize    = 100
	defaultListPage    = 10
	// videoPlatform is the platform the gateway records for its video
	// channel's tasks (the channel type number, as a string).
	videoPlatform = "54"
)

// listingReply is the dashboard's answer shape.
type listingReply struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type listingPage struct {
	Page     int           `json:"page"`
	PageSize int           `json:"page_size"`
	Total    int           `json:"total"`
	Items    []listingItem `json:"items"`
}

// listingItem is one row of the listing: the gateway's task table, not the
// poll reply (no upstream object; result_url only on newer versions).
type listingItem struct {
	ID         int    `json:"id"`
	TaskID     string `json:"task_id"`
	Platform   string `json:"platform"`
	UserID     int    `json:"user_id"`
	Action     string `json:"action"`
	Status     string `json:"status"`
	FailReason string `json:"fail_reason"`
	ResultURL  string `json:"result_url,omitempty"`
	SubmitTime int64  `json:"submit_time"`
	StartTime  int64  `json:"start_time"`
	FinishTime int64  `json:"finish_time"`
	Progress   string `json:"progress"`
}

// handleListTasks answers GET /api/task/self?p=&page_size=&start_timestamp=&end_timestamp=&status=.
func (s *Server) handleListTasks(w http.ResponseWriter, r *http.Request) {
	if s.cfg.NoTaskListing {
		// A reseller that does not expose the dashboard API: its web UI's
		// catch-all route answers with a page.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!doctype html><html><body><h1>404 Not Found</h1></body></html>"))
		return
	}
	if msg, status, ok := s.dashboardAuth(r); !ok {
		writeJSON(w, status, listingReply{Success: false, Message: msg})
		return
	}
	q := r.URL.Query()
	page := max(atoiOr(q.Get("p"), 1), 1)
	size := atoiOr(q.Get("page_size"), defaultListPage)
	if size <= 0 {
		size = defaultListPage
	}
	size = min(size, maxListPageSize)
	from, to := int64(atoiOr(q.Get("start_timestamp"), 0)), int64(atoiOr(q.Get("end_timestamp"), 0))
	status := q.Get("status")

	host := r.Host
	if host == "" {
		host = "localhost"
	}
	now := s.now()
	s.mu.Lock()
	var match []*task
	for i := len(s.order) - 1; i >= 0; i-- { // newest first
		t := s.tasks[s.order[i]]
		sub := t.created.Unix()
		if (from > 0 && sub < from) || (to > 0 && sub > to) {
			continue
		}
		match = append(match, t)
	}
	s.mu.Unlock()

	items := []listingItem{}
	n := 0
	for _, t := range match {
		st := t.stateAt(now)
		if status != "" && status != st.status {
			continue
		}
		n++
		if n <= (page-1)*size || len(items) == size {
			continue
		}
		it := listingItem{ID: t.row, TaskID: t.id, Platform: videoPlatform, UserID: s.cfg.UserID,
			Action: "generate", Status: st.status, SubmitTime: t.created.Unix(), StartTime: st.start,
			FinishTime: st.finish, Progress: st.progress}
		if st.status == statusFailure {
			it.FailReason = t.failReason
		}
		if st.hasVideos {
			it.ResultURL = s.mediaURL(host, t, t.videos[0])
			it.FailReason = it.ResultURL
		}
		items = append(items, it)
	}
	writeJSON(w, http.StatusOK, listingReply{Success: true,
		Data: listingPage{Page: page, PageSize: size, Total: n, Items: items}})
}

// dashboardAuth checks the access token and New-Api-User the way the
// gateway's middleware does, with its status codes: no token 401, an
// unknown token 200 (success false), a missing or foreign user id 401. The
// token may come with or without "Bearer ".
func (s *Server) dashboardAuth(r *http.Request) (msg string, status int, ok bool) {
	tok := strings.TrimSpace(r.Header.Get("Authorization"))
	if tok == "" {
		return "无权进行此操作，未登录且未提供 access token", http.StatusUnauthorized, false
	}
	if len(tok) > 7 && strings.EqualFold(tok[:7], "Bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	s.mu.Lock()
	want := s.accessToken
	s.mu.Unlock()
	if want == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(want)) != 1 {
		return "无权进行此操作，access token 无效", http.StatusOK, false
	}
	uid := r.Header.Get("New-Api-User")
	if uid == "" {
		return "无权进行此操作，未提供 New-Api-User", http.StatusUnauthorized, false
	}
	if n, err := strconv.Atoi(uid); err != nil || n != s.cfg.UserID {
		return "无权进行此操作，New-Api-User 与登录用户不匹配", http.StatusUnauthorized, false
	}
	return "", 0, true
}

// SetAccessToken replaces the accepted dashboard access token at run time;
// an empty token rejects every listing.
func (s *Server) SetAccessToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessToken = tok
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}
