package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// nested is a SUCCESS reply whose data carries n nested objects, like the
// 54 KB reply that became a 162 MB task.json.
func nested(n int) string {
	return `{"code":"success","data":{"task_id":"` + testID + `","status":"SUCCESS","finish_time":1777288800,` +
		`"result_url":"https://h.example/v.mp4?X-Tos-Signature=SECRETSIG","deep":` +
		strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) + `}}`
}

// sidecarOf indents a kept reply inside an object, as task.json does.
func sidecarOf(tb testing.TB, reply []byte) []byte {
	tb.Helper()
	b, err := json.MarshalIndent(struct {
		Reply json.RawMessage `json:"gateway_reply"`
	}{reply}, "", "  ")
	if err != nil {
		tb.Fatalf("MarshalIndent of the kept reply: %v", err)
	}
	return b
}

// What is kept of a reply, and shown indented, is bounded whatever its
// nesting or size, and the task in it still decodes.
func TestClientKeepsRepliesBounded(t *testing.T) {
	wide := `{"code":"success","data":{"task_id":"` + testID + `","status":"SUCCESS","finish_time":1777288800,` +
		`"pad":"` + strings.Repeat("x", 200<<10) + `"}}`
	// 30 levels of arrays around 60 KiB of ones: small compact, but
	// indented every 1 is a line with 60 spaces in front.
	indentBomb := `{"code":"success","data":{"task_id":"` + testID + `","status":"SUCCESS","deep":` +
		strings.Repeat("[", 28) + strings.TrimSuffix(strings.Repeat("1,", 30<<10), ",") + strings.Repeat("]", 28) + `}}`
	tests := []struct {
		name, body string
		truncated  bool
		marker     bool
	}{
		{"9,000 nested objects", nested(9000), false, true},
		{"33 levels", nested(31), false, true},
		{"32 levels", nested(30), false, false},
		{"200 KiB string", wide, true, false},
		{"indentation bomb", indentBomb, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, respond(http.StatusOK, "application/json", tt.body), time.Now())
			task, raw, err := c.Task(t.Context(), testID)
			if err != nil {
				t.Fatalf("Task: %v", err)
			}
			if task.Status != StatusSuccess {
				t.Errorf("status %q, want SUCCESS", task.Status)
			}
			stored := RedactReply(raw) // what the poller stores
			side := sidecarOf(t, stored)
			if len(side) > 256<<10 {
				t.Errorf("task.json would be %d bytes", len(side))
			}
			if got := bytes.Contains(stored, []byte(`"_reelvault_truncated":true`)); got != tt.truncated {
				t.Errorf("truncated = %v, want %v: %.200s", got, tt.truncated, stored)
			}
			if got := bytes.Contains(stored, []byte(depthMarker)); got != tt.marker {
				t.Errorf("depth marker = %v, want %v", got, tt.marker)
			}
			if tt.truncated && !bytes.Contains(stored, fmt.Appendf(nil, `"bytes":%d`, len(tt.body))) {
				t.Errorf("truncated form does not give the reply's size: %.200s", stored)
			}
			if bytes.Contains(stored, []byte("SECRETSIG")) {
				t.Errorf("signature survived: %.300s", stored)
			}
			if (tt.truncated || tt.marker) && len(task.Warnings) == 0 {
				t.Errorf("no warning that the reply was cut")
			}
		})
	}
}

// Past encoding/json's 10,000 levels a reply is not JSON to Go: it fails
// cleanly as a bad reply, and what is kept of it is a short placeholder.
func TestClientTooDeepIsBadReply(t *testing.T) {
	c := newTestClient(t, respond(http.StatusOK, "application/json", nested(20000)), time.Now())
	task, raw, err := c.Task(t.Context(), testID)
	if !errors.Is(err, ErrBadReply) || task != nil {
		t.Fatalf("Task = %+v, %v; want ErrBadReply", task, err)
	}
	if got := RedactReply(raw); len(got) > 100 {
		t.Errorf("RedactReply kept %d bytes of it", len(got))
	}
}

func TestRedactReplyBounded(t *testing.T) {
	big := `{"result_url":"https://h.example/v.mp4?X-Tos-Signature=SECRETSIG","pad":"` + strings.Repeat("y", 70<<10) + `"}`
	tests := []struct {
		name, in string
		want     string // a substring of the output
	}{
		{"deep, plain", strings.Repeat("[", 40) + strings.Repeat("]", 40), `"` + depthMarker + `"`},
		{"deep, with a URL", strings.Repeat(`{"u":"https://h.example/?sig=SECRET",`+`"a":`, 40) + "1" + strings.Repeat("}", 40), depthMarker},
		{"big", big, `{"_reelvault_truncated":true,"bytes":` + fmt.Sprint(len(big)) + `,"head":"{\"result_url\":\"https://h.example/v.mp4?X-Tos-Signature=REDACTED\",\"pad\":\"yyy`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := RedactReply([]byte(tt.in))
			if !json.Valid(out) {
				t.Fatalf("not JSON: %.300s", out)
			}
			if !bytes.Contains(out, []byte(tt.want)) {
				t.Errorf("output lacks %.200s\n got %.300s", tt.want, out)
			}
			assertNoSecret(t, string(out))
			if depth, size := measure(out); depth > maxKeptDepth || size > maxKeptBytes {
				t.Errorf("depth %d, indented size %d", depth, size)
			}
			if again := RedactReply(out); !bytes.Equal(again, out) {
				t.Errorf("not idempotent:\n once %.300s\ntwice %.300s", out, again)
			}
		})
	}
}

// measure must predict MarshalIndent exactly, or the size cap means nothing.
func TestMeasure(t *testing.T) {
	samples := []string{
		`{}`, `[]`, `1`, `"s"`, `null`, `{"a":{}}`, `[[],[1],{}]`, `{"a":[1,2,{"b":null}],"c":"x"}`,
		`{"k\"ey":"va]lue\\","[":"{"}`, ` { "a" : [ 1 , 2 ] } `, `[[[[["\u00e9"]]]]]`,
		string(readTestdata(t, "success_normal.json")), string(readTestdata(t, "success_superres.json")),
	}
	for _, s := range samples {
		var compact, want bytes.Buffer
		if err := json.Compact(&compact, []byte(s)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		_ = json.Indent(&want, compact.Bytes(), "", "  ")                                        // what MarshalIndent does to a RawMessage
		wantDepth := strings.Count(compact.String(), "[") + strings.Count(compact.String(), "{") // deep enough for these
		if _, got := measure([]byte(s)); got != want.Len() {
			t.Errorf("measure(%.60s) indented = %d, want %d", s, got, want.Len())
		}
		if d, _ := measure([]byte(s)); d > wantDepth {
			t.Errorf("measure(%.60s) depth = %d, more than %d containers", s, d, wantDepth)
		}
	}
	if d, _ := measure([]byte(`[{"a":[1]},[[2]],"[[[["]`)); d != 3 {
		t.Errorf("depth = %d, want 3", d)
	}
}
