package gateway

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readTestdata returns a file under testdata/. The three API examples there
// are copied verbatim from the vendor's page (shared/000_*.txt).
func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeAPIExamples(t *testing.T) {
	const tosURL = "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/...mp4?..."
	const vodURL = "https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=..."
	const vodRedacted = "https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=REDACTED"
	tests := []struct {
		file        string
		want        Task
		wantVideo   string
		wantFailure string
	}{
		{
			file: "success_normal.json",
			want: Task{
				TaskID: "asyntask_h81efT0qwtLnzyt6VENmCZ6VXSfNxE2E", Action: "generate", Status: StatusSuccess,
				ResultURL: tosURL, FailReason: tosURL,
				SubmitTime: 1777288506, StartTime: 1777288508, FinishTime: 1777288800,
				Progress: "100%", RequestID: "20260427111505260254000NBdvZFoP",
				Upstream: Upstream{
					VideoURL: tosURL, ID: "cgt-20260427191505-9j2q7", Model: "doubao-seedance-2-0-260128",
					Duration: 5, Ratio: "16:9", Resolution: "720p", FramesPerSecond: 24,
					GenerateAudio: true, Seed: 4304, Status: "succeeded",
					CompletionTokens: 108900, TotalTokens: 108900,
				},
			},
			wantVideo: tosURL,
		},
		{
			file: "success_superres.json",
			want: Task{
				TaskID: "asyntask_2cEAvaCpERzvSo7wfCCPZmNlGx8cjnu4", Action: "generate", Status: StatusSuccess,
				ResultURL: vodURL, OriginalResultURL: tosURL, FailReason: vodRedacted, // the legacy copy, redacted
				SubmitTime: 1777288507, StartTime: 1777288509, FinishTime: 1777288834,
				Progress: "100%", RequestID: "20260427111507187625000wErxKeB6",
				Upstream: Upstream{
					VideoURL: tosURL, ID: "cgt-20260427191507-f5n97",
					Duration: 5, Ratio: "16:9", Resolution: "480p", SuperResolution: "720p",
					CompletionTokens: 50638, TotalTokens: 50638, SuperResolutionTokens: 114441,
				},
			},
			wantVideo: vodURL,
		},
		{
			file: "failure.json",
			want: Task{
				TaskID: "asyntask_xxx", Action: "generate", Status: StatusFailure,
				FailReason: "task failed, code: InvalidParameter, message: img_url must be set for image to video method",
				SubmitTime: 1775802896, FinishTime: 1775802902,
				Progress: "100%", RequestID: "...",
			},
			wantFailure: "task failed, code: InvalidParameter, message: img_url must be set for image to video method",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Decode(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
			if v := got.VideoURL(); v != tt.wantVideo {
				t.Errorf("VideoURL() = %q, want %q", v, tt.wantVideo)
			}
			if f := got.Failure(); f != tt.wantFailure {
				t.Errorf("Failure() = %q, want %q", f, tt.wantFailure)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Task
	}{
		{
			name: "numbers as strings",
			body: `{"code":"success","data":{"task_id":"t","status":"IN_PROGRESS","submit_time":"1777288506",
				"start_time":" 1777288508 ","progress":50,"data":{"duration":"5","framespersecond":"24.0","seed":"-1",
				"generate_audio":"true","usage":{"completion_tokens":"108900","total_tokens":108900.0}}}}`,
			want: Task{TaskID: "t", Status: StatusInProgress, SubmitTime: 1777288506, StartTime: 1777288508, Progress: "50",
				Upstream: Upstream{Duration: 5, FramesPerSecond: 24, Seed: -1, GenerateAudio: true, CompletionTokens: 108900, TotalTokens: 108900}},
		},
		{
			name: "nulls everywhere",
			body: `{"code":null,"message":null,"data":{"task_id":"t","action":null,"status":"QUEUED","result_url":null,
				"submit_time":null,"progress":null,"data":{"content":null,"usage":null,"duration":null,"generate_audio":null}}}`,
			want: Task{TaskID: "t", Status: StatusQueued},
		},
		{
			name: "data.data missing",
			body: `{"code":"success","message":"","data":{"task_id":"t","status":"NOT_START","submit_time":1777288506}}`,
			want: Task{TaskID: "t", Status: StatusNotStart, SubmitTime: 1777288506},
		},
		{
			name: "data.data and nested objects of the wrong kind",
			body: `{"code":"success","data":{"task_id":"t","status":"SUCCESS","data":{"content":"x","usage":[1,2],"id":{"a":1}}}}`,
			want: Task{TaskID: "t", Status: StatusSuccess},
		},
		{
			name: "data.data a string",
			body: `{"code":"success","data":{"task_id":"t","status":"SUCCESS","data":"oops"}}`,
			want: Task{TaskID: "t", Status: StatusSuccess},
		},
		{
			name: "unknown status kept",
			body: `{"code":"success","data":{"task_id":"t","status":"SUBMITTED"}}`,
			want: Task{TaskID: "t", Status: "SUBMITTED"},
		},
		{
			name: "status letter case and spaces",
			body: `{"code":"success","data":{"task_id":"t","status":" success "}}`,
			want: Task{TaskID: "t", Status: StatusSuccess},
		},
		{
			name: "floats for ints, bools as numbers, extra fields",
			body: `{"code":"success","extra":{"x":[1]},"data":{"task_id":"t","status":"SUCCESS","finish_time":1777288800.9,
				"new_field":true,"data":{"generate_audio":1,"seed":4.304e3,"usage":{"total_tokens":1e400}}}}`,
			want: Task{TaskID: "t", Status: StatusSuccess, FinishTime: 1777288800, Upstream: Upstream{GenerateAudio: true, Seed: 4304}},
		},
		{
			name: "garbage numbers are zero",
			body: `{"code":"success","data":{"task_id":"t","status":"SUCCESS","submit_time":"soon","start_time":"NaN",
				"finish_time":[1],"data":{"duration":"Inf","framespersecond":"1e999","generate_audio":"maybe","seed":1e30}}}`,
			want: Task{TaskID: "t", Status: StatusSuccess},
		},
		{
			name: "task id as number, code missing",
			body: `{"data":{"task_id":12345,"status":"FAILURE","fail_reason":"boom"}}`,
			want: Task{TaskID: "12345", Status: StatusFailure, FailReason: "boom"},
		},
		{
			name: "byte order mark",
			body: "\xEF\xBB\xBF" + `{"code":"success","data":{"task_id":"t","status":"QUEUED"}}`,
			want: Task{TaskID: "t", Status: StatusQueued},
		},
		{
			name: "code in upper case",
			body: `{"code":"SUCCESS","data":{"task_id":"t","status":"QUEUED"}}`,
			want: Task{TaskID: "t", Status: StatusQueued},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     error // errors.Is target
		wantCode string
	}{
		{"HTML page", `<html><body>Just a moment...</body></html>`, ErrBadReply, ""},
		{"truncated JSON", `{"code":"success","message":"","data":{"task_id":"t","status":"SUCC`, ErrBadReply, ""},
		{"empty body", ``, ErrBadReply, ""},
		{"whitespace only", " \n", ErrBadReply, ""},
		{"JSON array", `[{"code":"success"}]`, ErrBadReply, ""},
		{"JSON string", `"success"`, ErrBadReply, ""},
		{"JSON null", `null`, ErrBadReply, ""},
		{"trailing garbage", `{"code":"success","data":{"status":"SUCCESS"}}<html>`, ErrBadReply, ""},
		{"no data", `{"code":"success","message":""}`, ErrBadReply, ""},
		{"data null", `{"code":"success","data":null}`, ErrBadReply, ""},
		{"data array", `{"code":"success","data":[{"status":"SUCCESS"}]}`, ErrBadReply, ""},
		{"no status", `{"code":"success","data":{"task_id":"t"}}`, ErrBadReply, ""},
		{"status null", `{"code":"success","data":{"task_id":"t","status":null}}`, ErrBadReply, ""},
		{"status object", `{"code":"success","data":{"task_id":"t","status":{"s":1}}}`, ErrBadReply, ""},
		{"task_not_exist code", `{"code":"task_not_exist","message":"task_not_exist","data":null}`, ErrTaskNotFound, "task_not_exist"},
		{"task_not_exist in message only", `{"code":"","message":"error: task_not_exist"}`, ErrTaskNotFound, ""},
		{"new-api error object", `{"error":{"message":"invalid token","type":"new_api_error"}}`, nil, "new_api_error"},
		{"other code", `{"code":"fail_to_fetch_task","message":"upstream timeout","data":{"status":"SUCCESS"}}`, nil, "fail_to_fetch_task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err == nil || got != nil {
				t.Fatalf("Decode = %+v, %v; want nil task and an error", got, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.want)
			}
			var apiErr *APIError
			isAPI := errors.As(err, &apiErr)
			if isAPI == errors.Is(err, ErrBadReply) {
				t.Errorf("err = %v: want exactly one of *APIError and ErrBadReply", err)
			}
			if isAPI && apiErr.Code != tt.wantCode {
				t.Errorf("APIError.Code = %q, want %q", apiErr.Code, tt.wantCode)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		s               Status
		known, terminal bool
	}{
		{StatusNotStart, true, false},
		{StatusQueued, true, false},
		{StatusInProgress, true, false},
		{StatusSuccess, true, true},
		{StatusFailure, true, true},
		{"SUBMITTED", false, false},
		{"UNKNOWN", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := tt.s.Known(); got != tt.known {
			t.Errorf("%q.Known() = %v, want %v", tt.s, got, tt.known)
		}
		if got := tt.s.Terminal(); got != tt.terminal {
			t.Errorf("%q.Terminal() = %v, want %v", tt.s, got, tt.terminal)
		}
	}
}

func TestTaskVideoURL(t *testing.T) {
	const a, b = "https://a.example/v.mp4?sig=1", "https://b.example/v.mp4?sig=2"
	tests := []struct {
		name, result, upstream, want string
	}{
		{"result wins", a, b, a},
		{"fallback when result empty", "", b, b},
		{"fallback when result is not a URL", "pending", b, b},
		{"non-URL result kept when nothing better", "pending", "", "pending"},
		{"neither", "", "", ""},
	}
	for _, tt := range tests {
		task := Task{ResultURL: tt.result, Upstream: Upstream{VideoURL: tt.upstream}}
		if got := task.VideoURL(); got != tt.want {
			t.Errorf("%s: VideoURL() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTaskFailure(t *testing.T) {
	tests := []struct {
		status Status
		want   string
	}{
		{StatusFailure, "reason"},
		{StatusSuccess, ""}, // legacy copy of result_url
		{StatusInProgress, ""},
		{"WEIRD", ""},
	}
	for _, tt := range tests {
		task := Task{Status: tt.status, FailReason: "reason"}
		if got := task.Failure(); got != tt.want {
			t.Errorf("%s: Failure() = %q, want %q", tt.status, got, tt.want)
		}
	}
}

// Decode redacts fail_reason, so whoever records or logs Failure() gets it
// without secrets; the API examples' reason is untouched.
func TestDecodeRedactsFailReason(t *testing.T) {
	tests := []struct{ reason, want string }{
		{"download " + signedTOS + " failed", "X-Tos-Expires=86400&X-Tos-Signature=REDACTED"},
		{signedVOD, "preview=1&auth_key=REDACTED"},
		{"origin said 403 for token=SECRET&Expires=1777300000", "token=REDACTED&Expires=1777300000"},
		{"X-Amz-Credential=AKIASECRET%2F20260427 rejected", "X-Amz-Credential=REDACTED rejected"},
		{"task failed, code: InvalidParameter", "task failed, code: InvalidParameter"},
	}
	for _, tt := range tests {
		reply, _ := json.Marshal(map[string]any{"code": "success",
			"data": map[string]any{"task_id": "t", "status": "FAILURE", "fail_reason": tt.reason}})
		task, err := Decode(reply)
		if err != nil {
			t.Fatal(err)
		}
		got := task.Failure()
		assertNoSecret(t, got)
		if !strings.Contains(got, tt.want) {
			t.Errorf("Failure() = %q, want it to contain %q", got, tt.want)
		}
	}
	// The gateway's own error text is redacted the same way.
	_, err := Decode([]byte(`{"code":"fail_to_fetch_task","message":"GET ` + signedTOS + ` with auth_key=SECRET: 403"}`))
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	assertNoSecret(t, apiErr.Error())
}
