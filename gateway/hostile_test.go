package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// escapeAll writes every character of s as a JSON \u escape.
func escapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04X`, r)
	}
	return b.String()
}

// escapeSome escapes only the first and the middle character of s, as a
// gateway escaping some characters but not others would.
func escapeSome(s string) string {
	mid := len(s) / 2
	return fmt.Sprintf(`\u%04x`, s[0]) + s[1:mid] + fmt.Sprintf(`\u%04x`, s[mid]) + s[mid+1:]
}

// jsonStrings returns every string, object keys included, of a JSON text.
func jsonStrings(tb testing.TB, raw []byte) []string {
	tb.Helper()
	var out []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

// A gateway that echoes the API key, in plain or JSON-escaped, must not get
// it into the task, the reply kept for storage, or an error.
func TestClientScrubsEchoedKey(t *testing.T) {
	forms := map[string]string{"plain": testKey, "escaped": escapeAll(testKey), "partly escaped": escapeSome(testKey)}
	replies := []struct {
		name   string
		status int
		body   string // %[1]s is the key in one form
		ok     bool
	}{
		{"FAILURE quoting it everywhere", 200, `{"code":"success","message":"%[1]s","data":{"task_id":"` + testID + `",` +
			`"status":"FAILURE","fail_reason":"upstream said: invalid key %[1]s","action":"%[1]s","progress":"%[1]s",` +
			`"request_id":"req-%[1]s","result_url":"https://h.example/v.mp4?k=%[1]s","extra":{"%[1]s":["%[1]s"]},` +
			`"data":{"id":"%[1]s","model":"%[1]s","status":"%[1]s","content":{"video_url":"https://h.example/%[1]s"}}}}`, true},
		{"status word", 200, `{"code":"success","data":{"task_id":"` + testID + `","status":"%[1]s"}}`, true},
		{"401 new-api error", 401, `{"error":{"message":"invalid token %[1]s","type":"%[1]s"}}`, false},
		{"500 gateway error", 500, `{"code":"%[1]s","message":"upstream rejected %[1]s"}`, false},
		{"200 gateway error", 200, `{"code":"bad","message":"%[1]s"}`, false},
		{"200 another task", 200, `{"code":"success","data":{"task_id":"%[1]s","status":"SUCCESS"}}`, false},
		{"200 no status", 200, `{"code":"success","message":"%[1]s","data":{"task_id":"` + testID + `","x":"%[1]s"}}`, false},
	}
	for _, r := range replies {
		for form, key := range forms {
			t.Run(r.name+"/"+form, func(t *testing.T) {
				body := fmt.Sprintf(r.body, key)
				if !json.Valid([]byte(body)) {
					t.Fatalf("test reply is not JSON: %s", body)
				}
				c := newTestClient(t, respond(r.status, "application/json", body), time.Now())
				task, raw, err := c.Task(t.Context(), testID)
				if (err == nil) != r.ok {
					t.Fatalf("Task error %v, want ok=%v", err, r.ok)
				}
				seen := []string{fmt.Sprintf("%+v", task), string(raw), string(RedactReply(raw))}
				if err != nil {
					seen = append(seen, err.Error())
				}
				if !json.Valid(raw) {
					t.Fatalf("raw reply is not JSON: %s", raw)
				}
				seen = append(seen, jsonStrings(t, raw)...)
				for _, s := range seen {
					if strings.Contains(s, testKey) {
						t.Errorf("key leaked in %q", s)
					}
				}
				if task != nil && task.Status == StatusFailure && !strings.Contains(task.Failure(), "invalid key REDACTED") {
					t.Errorf("Failure() = %q, want the reason with the key replaced", task.Failure())
				}
				if task != nil && !strings.Contains(strings.Join(task.Warnings, "\n"), "API key") {
					t.Errorf("warnings %q do not say the reply quoted the key", task.Warnings)
				}
			})
		}
	}
}

// redirectingGateway answers every poll with a 302 to another loopback server
// that answers body; sawAuth holds the Authorization header that one saw.
func redirectingGateway(t *testing.T, body string) (gateway *httptest.Server, sawAuth *atomic.Value) {
	t.Helper()
	sawAuth = new(atomic.Value)
	sawAuth.Store("")
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			sawAuth.Store(a)
		}
		respond(200, "application/json", body)(w, r)
	}))
	t.Cleanup(target.Close)
	gateway = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path+"?X-Tos-Signature=SECRETSIG", http.StatusFound)
	}))
	t.Cleanup(gateway.Close)
	return gateway, sawAuth
}

// A redirect to another host must not carry the key there, nor bring back
// what that host says. Two loopback servers differ only by port, which Go's
// own policy does not tell apart.
func TestClientRefusesCrossHostRedirect(t *testing.T) {
	foreign := `{"code":"success","data":{"task_id":"` + testID + `","status":"SUCCESS","result_url":"https://evil.example/v.mp4"}}`
	callers := map[string]func(*httptest.Server) *http.Client{
		"nil client":   func(*httptest.Server) *http.Client { return nil },
		"given client": func(s *httptest.Server) *http.Client { return s.Client() },
	}
	for name, hcOf := range callers {
		t.Run(name, func(t *testing.T) {
			gw, sawAuth := redirectingGateway(t, foreign)
			hc := hcOf(gw)
			c := NewClient(gw.URL, testKey, hc)
			task, raw, err := c.Task(t.Context(), testID)
			if got := sawAuth.Load().(string); got != "" {
				t.Errorf("the other host received Authorization %q", got)
			}
			if err == nil || task != nil || raw != nil {
				t.Fatalf("Task = %+v, %q, %v; want an error and nothing from the other host", task, raw, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "redirected to another host") || strings.Contains(msg, "SECRETSIG") {
				t.Errorf("error %q: want it to name the redirect, with the target redacted", msg)
			}
			if hc != nil && hc.CheckRedirect != nil {
				t.Errorf("NewClient changed the caller's http.Client")
			}
		})
	}
}

// A redirect within the gateway's own origin is followed, key and all.
func TestClientFollowsSameHostRedirect(t *testing.T) {
	var gotAuth atomic.Value
	gotAuth.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/moved/") {
			http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusMovedPermanently)
			return
		}
		gotAuth.Store(r.Header.Get("Authorization"))
		respond(200, "application/json", envelope(testID, "QUEUED"))(w, r)
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, testKey, srv.Client())
	task, _, err := c.Task(t.Context(), testID)
	if err != nil || task.Status != StatusQueued {
		t.Fatalf("Task = %+v, %v; want QUEUED", task, err)
	}
	if got := gotAuth.Load().(string); got != "Bearer "+testKey {
		t.Errorf("Authorization after a same-host redirect = %q", got)
	}
}
