package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

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
