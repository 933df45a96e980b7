package server_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/server"
)

func TestIntakeRequiresTheToken(t *testing.T) {
	cat := openCatalog(t)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Token: "s3cret", Catalog: cat, Logger: log})
	body := `{"task_id":"asyntask_abc"}`
	for _, token := range []string{"", "wrong"} {
		if code, reply := do(t, "POST", url+"/v1/tasks", token, body); code != http.StatusUnauthorized {
			t.Errorf("token %q: HTTP %d %s, want 401", token, code, reply)
		}
	}
	if _, err := cat.Get(t.Context(), "asyntask_abc"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("an unauthorized request tracked the task (Get: %v)", err)
	}
	if code, reply := do(t, "POST", url+"/v1/tasks", "s3cret", body); code != http.StatusOK {
		t.Fatalf("with the token: HTTP %d %s, want 200", code, reply)
	}
	got, err := cat.Get(t.Context(), "asyntask_abc")
	if err != nil || got.Source != catalog.SourceIntake {
		t.Fatalf("Get = %+v, %v; want the task tracked with source intake", got, err)
	}
}

func TestIntakeTracksTheValidIDsAndNamesTheBadOnes(t *testing.T) {
	cat := openCatalog(t)
	log, _ := newLogger(t)
	var woken atomic.Int32
	url := serve(t, server.Options{Catalog: cat, Logger: log, Wake: func() { woken.Add(1) }})

	code, b := do(t, "POST", url+"/v1/tasks", "", `{"task_ids":["asyntask_one","../etc/passwd","asyntask_two","a b"]}`)
	if code != http.StatusBadRequest {
		t.Fatalf("HTTP %d %s, want 400 for a batch with bad ids", code, b)
	}
	reply := decode[server.IntakeReply](t, b)
	if len(reply.Tracked) != 2 || reply.New != 2 || len(reply.Rejected) != 2 {
		t.Fatalf("reply %+v: want 2 tracked (2 new), 2 rejected", reply)
	}
	for _, bad := range []string{`"../etc/passwd"`, `"a b"`} {
		if !strings.Contains(reply.Error, bad) {
			t.Errorf("error %q does not name %s", reply.Error, bad)
		}
	}
	for _, id := range []string{"asyntask_one", "asyntask_two"} {
		if _, err := cat.Get(t.Context(), id); err != nil {
			t.Errorf("valid id %s of a partly bad batch not tracked: %v", id, err)
		}
	}
	if woken.Load() == 0 {
		t.Error("the archiver was not woken for the new tasks")
	}

	// Tracking again is harmless and says nothing is new.
	code, b = do(t, "POST", url+"/v1/tasks", "", `{"task_id":"asyntask_one"}`)
	if reply := decode[server.IntakeReply](t, b); code != http.StatusOK || reply.New != 0 || len(reply.Tracked) != 1 {
		t.Errorf("re-tracking: HTTP %d %+v, want 200 with 1 tracked, 0 new", code, reply)
	}
}

func TestIntakeRefusesMalformedBodies(t *testing.T) {
	cat := openCatalog(t)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: cat, Logger: log})
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"task_id":`, http.StatusBadRequest, "malformed JSON"},
		{`{"taskid":"asyntask_x"}`, http.StatusBadRequest, `unknown field \"taskid\"`},
		{`{}`, http.StatusBadRequest, "no task id given"},
		{`{"task_ids":["` + strings.Repeat("a", 2<<20) + `"]}`, http.StatusRequestEntityTooLarge, "larger than"},
	} {
		code, b := do(t, "POST", url+"/v1/tasks", "", tc.body)
		if code != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("body %.40q: HTTP %d %s; want %d mentioning %q", tc.body, code, b, tc.code, tc.want)
		}
	}
	if code, _ := do(t, "GET", url+"/v1/tasks", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/tasks: HTTP %d, want 405", code)
	}
	tasks, _, err := cat.Counts(t.Context())
	if err != nil || len(tasks) != 0 {
		t.Errorf("malformed requests tracked something: %v %v", tasks, err)
	}
}

func TestIntakeKeepsAPromptGivenWithTheID(t *testing.T) {
	cat := openCatalog(t)
	log, _ := newLogger(t)
	url := serve(t, server.Options{Catalog: cat, Logger: log})
	code, b := do(t, "POST", url+"/v1/tasks", "", `{"task_id":"asyntask_p","prompt":"a red fox <script>","model":"seedance"}`)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, b)
	}
	got, err := cat.Get(t.Context(), "asyntask_p")
	if err != nil || got.Prompt != "a red fox <script>" || got.Model != "seedance" {
		t.Fatalf("Get = prompt %q model %q, %v; want the prompt and model given", got.Prompt, got.Model, err)
	}
}
