package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

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
