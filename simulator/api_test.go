package simulator

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var taskIDPattern = regexp.MustCompile(`^asyntask_[A-Za-z0-9]{32}$`)

func TestLifeCycle(t *testing.T) {
	clock := newFakeClock()
	t0 := clock.Now().Unix()
	srv, ts := mustStartSimulator(t, testConfig(clock))
	id := srv.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	if !taskIDPattern.MatchString(id) {
		t.Fatalf("task id %q does not look like asyntask_ + 32 alphanumerics", id)
	}

	// Default phases: NOT_START 2s, QUEUED 3s, IN_PROGRESS 10s.
	steps := []struct {
		at               time.Duration // since creation
		status, progress string
		start, finish    int64
	}{
		{0, statusNotStart, "0%", 0, 0},
		{1999 * time.Millisecond, statusNotStart, "0%", 0, 0},
		{2 * time.Second, statusQueued, "10%", 0, 0},
		{5 * time.Second, statusInProgress, "50%", t0 + 5, 0},
		{10 * time.Second, statusInProgress, "74%", t0 + 5, 0},
		{14*time.Second + 900*time.Millisecond, statusInProgress, "98%", t0 + 5, 0},
		{15 * time.Second, statusSuccess, "100%", t0 + 5, t0 + 15},
		{48 * time.Hour, statusSuccess, "100%", t0 + 5, t0 + 15},
	}
	elapsed := time.Duration(0)
	for _, step := range steps {
		clock.Advance(step.at - elapsed)
		elapsed = step.at
		code, reply := poll(t, ts, id)
		d := taskData(t, reply)
		if code != http.StatusOK {
			t.Fatalf("at %v: HTTP %d", step.at, code)
		}
		got := []any{d["status"], d["progress"], d["start_time"], d["finish_time"], d["submit_time"]}
		want := []any{step.status, step.progress, float64(step.start), float64(step.finish), float64(t0)}
		if !slices.Equal(got, want) {
			t.Errorf("at %v: got status, progress, start, finish, submit = %v, want %v", step.at, got, want)
		}
	}
}

func TestFailureLifeCycle(t *testing.T) {
	clock := newFakeClock()
	sim, ts := mustStartSimulator(t, testConfig(clock))
	var ids []string
	for range 20 { // enough to meet both early and late failures
		ids = append(ids, sim.CreateTask(TaskOptions{Fail: ptr(true)}))
	}
	clock.Advance(finishedLater)
	var early, late int
	for _, id := range ids {
		_, reply := poll(t, ts, id)
		d := taskData(t, reply)
		if d["status"] != statusFailure || d["progress"] != "100%" {
			t.Fatalf("task %s: status %v progress %v, want FAILURE 100%%", id, d["status"], d["progress"])
		}
		if r, _ := d["fail_reason"].(string); !strings.HasPrefix(r, "task failed, code: ") {
			t.Errorf("task %s: fail_reason %q", id, r)
		}
		if d["start_time"] == 0.0 {
			early++
		} else {
			late++
		}
		if status, videos, ok := sim.Expected(id); !ok || status != statusFailure || len(videos) != 0 {
			t.Errorf("Expected(%s) = %v, %v, %v; want FAILURE without videos", id, status, videos, ok)
		}
	}
	if early == 0 || late == 0 {
		t.Errorf("got %d early and %d late failures, want both kinds", early, late)
	}
}

// TestReplyFields pins the exact field names of API.md for every shape.
func TestReplyFields(t *testing.T) {
	base := []string{"task_id", "action", "status", "fail_reason", "submit_time", "start_time",
		"finish_time", "progress", "request_id"}
	upstream := []string{"id", "model", "duration", "ratio", "resolution", "framespersecond",
		"generate_audio", "seed", "status"}
	tests := []struct {
		name         string
		opts         TaskOptions
		after        time.Duration
		dataKeys     []string
		upstreamKeys []string // nil: no data.data
		usageKeys    []string
		resolution   string
		superRes     string
		tokens       float64
	}{
		{"not started", TaskOptions{Fail: ptr(false)}, 0, base, nil, nil, "", "", 0},
		{"running", TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)}, 6 * time.Second,
			append(slices.Clone(base), "data"), upstream, nil, "720p", "", 0},
		{"normal success", TaskOptions{Fail: ptr(false), SuperResolution: ptr(false), GenerateAudio: true},
			finishedLater, append(slices.Clone(base), "data", "result_url"),
			append(slices.Clone(upstream), "content", "usage"), []string{"completion_tokens", "total_tokens"},
			"720p", "", 108900},
		{"super-resolution success", TaskOptions{Model: "seedance-turbo", Fail: ptr(false)},
			finishedLater, append(slices.Clone(base), "data", "result_url", "original_result_url"),
			append(slices.Clone(upstream), "content", "usage", "super_resolution"),
			[]string{"completion_tokens", "total_tokens", "super_resolution_tokens"}, "480p", "720p", 48437},
		{"failure", TaskOptions{Fail: ptr(true)}, finishedLater, base, nil, nil, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			sim, ts := mustStartSimulator(t, testConfig(clock))
			id := sim.CreateTask(tt.opts)
			clock.Advance(tt.after)
			code, reply := poll(t, ts, id)
			if code != http.StatusOK || reply["code"] != "success" || reply["message"] != "" {
				t.Fatalf("envelope: HTTP %d %v", code, reply)
			}
			if got := keys(reply); !sameSet(got, []string{"code", "message", "data"}) {
				t.Errorf("envelope keys %v", got)
			}
			d := taskData(t, reply)
			if got := keys(d); !sameSet(got, tt.dataKeys) {
				t.Errorf("data keys %v, want %v", got, tt.dataKeys)
			}
			if d["task_id"] != id || d["action"] != "generate" {
				t.Errorf("task_id %v action %v", d["task_id"], d["action"])
			}
			up, _ := d["data"].(map[string]any)
			if got := keys(up); !sameSet(got, tt.upstreamKeys) {
				t.Fatalf("data.data keys %v, want %v", got, tt.upstreamKeys)
			}
			if up == nil {
				return
			}
			if up["resolution"] != tt.resolution || up["framespersecond"] != 24.0 ||
				!strings.HasPrefix(up["id"].(string), "cgt-") {
				t.Errorf("data.data resolution %v fps %v id %v", up["resolution"], up["framespersecond"], up["id"])
			}
			if tt.superRes != "" && up["super_resolution"] != tt.superRes {
				t.Errorf("super_resolution %v, want %v", up["super_resolution"], tt.superRes)
			}
			if tt.usageKeys == nil {
				return
			}
			usage := up["usage"].(map[string]any)
			if got := keys(usage); !sameSet(got, tt.usageKeys) {
				t.Errorf("usage keys %v, want %v", got, tt.usageKeys)
			}
			if usage["completion_tokens"] != tt.tokens {
				t.Errorf("completion_tokens %v, want %v", usage["completion_tokens"], tt.tokens)
			}
			if d["fail_reason"] != d["result_url"] {
				t.Errorf("fail_reason %v is not the legacy copy of result_url %v", d["fail_reason"], d["result_url"])
			}
			videoURL := up["content"].(map[string]any)["video_url"]
			want := d["result_url"]
			if tt.superRes != "" {
				want = d["original_result_url"]
			}
			if videoURL != want {
				t.Errorf("content.video_url %v, want %v", videoURL, want)
			}
		})
	}
}

func TestURLStyles(t *testing.T) {
	clock := newFakeClock()
	sim, ts := mustStartSimulator(t, testConfig(clock))
	normal := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(false)})
	sr := sim.CreateTask(TaskOptions{Fail: ptr(false), SuperResolution: ptr(true)})
	clock.Advance(finishedLater)
	finish := clock.Now()
	expiry := finish.Add(defaultURLTTL).Unix()

	tos := regexp.MustCompile(`^` + regexp.QuoteMeta(ts.URL) + `/tos/asyntask_\w{32}/(result|original)\.mp4` +
		`\?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLT[0-9A-F]{20}%2F` + finish.Format("20060102") +
		`%2Fcn-beijing%2Ftos%2Frequest&X-Tos-Date=` + finish.Format("20060102T150405Z") +
		`&X-Tos-Expires=86400&X-Tos-SignedHeaders=host&X-Tos-Signature=[0-9a-f]{64}$`)
	vod := regexp.MustCompile(`^` + regexp.QuoteMeta(ts.URL) + `/vod/asyntask_\w{32}/result\.mp4\?preview=1&auth_key=` +
		strconv.FormatInt(expiry, 10) + `-[a-z0-9]{8}-0-[0-9a-f]{32}$`)

	tests := []struct {
		id               string
		result, original *regexp.Regexp
	}{
		{normal, tos, nil},
		{sr, vod, tos},
	}
	for _, tt := range tests {
		result, original := successURLs(t, ts, tt.id)
		if !tt.result.MatchString(result) || !strings.Contains(result, tt.id+"/result.mp4") {
			t.Errorf("result_url %s does not match %s", result, tt.result)
		}
		if tt.original == nil && original != "" {
			t.Errorf("normal task has original_result_url %s", original)
		}
		if tt.original != nil && (!tt.original.MatchString(original) || !strings.Contains(original, "/original.mp4")) {
			t.Errorf("original_result_url %s does not match %s", original, tt.original)
		}
		// The gateway never re-signs: a later poll returns the same strings.
		clock.Advance(time.Hour)
		if r2, o2 := successURLs(t, ts, tt.id); r2 != result || o2 != original {
			t.Errorf("URLs changed between polls")
		}
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name       string
		id, key    string
		rotateTo   string
		wantStatus int
		wantCode   string
	}{
		{"no key", "", "", "", http.StatusUnauthorized, "invalid_api_key"},
		{"wrong key", "", "nope", "", http.StatusUnauthorized, "invalid_api_key"},
		{"rotated key", "", defaultAPIKey, "new-key", http.StatusUnauthorized, "invalid_api_key"},
		{"new key after rotation", "", "new-key", "new-key", http.StatusOK, "success"},
		{"unknown task", "asyntask_00000000000000000000000000000000", defaultAPIKey, "", http.StatusBadRequest, "task_not_exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			sim, ts := mustStartSimulator(t, testConfig(clock))
			id := tt.id
			if id == "" {
				id = sim.CreateTask(TaskOptions{})
			}
			if tt.rotateTo != "" {
				sim.SetAPIKey(tt.rotateTo)
			}
			resp := get(t, ts, ts.URL+"/v1/video/generations/"+id, tt.key)
			reply := decodeJSON(t, resp)
			if resp.StatusCode != tt.wantStatus || reply["code"] != tt.wantCode {
				t.Fatalf("HTTP %d %v, want %d code %s", resp.StatusCode, reply, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus != http.StatusOK {
				if v, ok := reply["data"]; !ok || v != nil {
					t.Errorf("error reply data = %v (present %v), want null", v, ok)
				}
			}
			if tt.wantCode == "task_not_exist" && reply["message"] != "task_not_exist" {
				t.Errorf("message %v", reply["message"])
			}
		})
	}
}

func TestCreateTaskOverHTTP(t *testing.T) {
	tests := []struct {
		name       string
		body, key  string
		wantStatus int
		wantSR     bool
	}{
		{"normal", `{"model":"doubao-seedance-2-0-260128","content":[{"type":"text","text":"a cat"}],"resolution":"1080p","ratio":"9:16","duration":8,"generate_audio":true}`,
			defaultAPIKey, http.StatusOK, false},
		{"turbo model", `{"model":"seedance-turbo","content":[{"type":"text","text":"a dog"}]}`, defaultAPIKey, http.StatusOK, true},
		{"super_resolution field", `{"model":"m","super_resolution":"720p"}`, defaultAPIKey, http.StatusOK, true},
		{"super_resolution false", `{"model":"m","super_resolution":false}`, defaultAPIKey, http.StatusOK, false},
		{"malformed", `{"model":`, defaultAPIKey, http.StatusBadRequest, false},
		{"no key", `{}`, "", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			sim, ts := mustStartSimulator(t, testConfig(clock))
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/v1/video/generations", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			reply := decodeJSON(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("HTTP %d %v, want %d", resp.StatusCode, reply, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			id, _ := taskData(t, reply)["task_id"].(string)
			if reply["code"] != "success" || !taskIDPattern.MatchString(id) || !slices.Equal(sim.TaskIDs(), []string{id}) {
				t.Fatalf("reply %v, TaskIDs %v", reply, sim.TaskIDs())
			}
			_, videos, _ := sim.Expected(id)
			if sr := len(videos) == 2; len(videos) > 0 && sr != tt.wantSR {
				t.Errorf("super-resolution %v, want %v", sr, tt.wantSR)
			}
			clock.Advance(6 * time.Second)
			_, polled := poll(t, ts, id)
			if st := taskData(t, polled)["status"]; st != statusInProgress {
				t.Errorf("created task polls as %v", st)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.Faults = Faults{API5xx: 1, APIReset: 1}
	_, ts := mustStartSimulator(t, cfg)
	resp := get(t, ts, ts.URL+"/healthz", "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
