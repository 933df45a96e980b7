package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Signed URLs shaped like the gateway's; the upper-case SECRET markers are
// what must never survive redaction.
const (
	signedTOS = "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/x.mp4?" +
		"X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTSECRETCRED%2F20260427%2Fcn-beijing%2Ftos%2Frequest" +
		"&X-Tos-Date=20260427T111505Z&X-Tos-Expires=86400&X-Tos-Signature=SECRETSIG0123&X-Tos-SignedHeaders=host"
	signedVOD = "https://v3.vod.cn-north-1.volcvideo.com/x/video.mp4?preview=1&auth_key=1777288830-0-0-SECRETMD5abcdef"
)

var secretMarkers = []string{"SECRET", "1777288830-0-0"}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"TOS", signedTOS, "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/x.mp4?" +
			"X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=REDACTED&X-Tos-Date=20260427T111505Z" +
			"&X-Tos-Expires=86400&X-Tos-Signature=REDACTED&X-Tos-SignedHeaders=REDACTED"},
		{"VOD auth_key", signedVOD, "https://v3.vod.cn-north-1.volcvideo.com/x/video.mp4?preview=1&auth_key=REDACTED"},
		{"AWS", "https://s3.example/b/k?X-Amz-Date=20260427T111505Z&X-Amz-Expires=60&X-Amz-Security-Token=SECRET&X-Amz-Signature=SECRET",
			"https://s3.example/b/k?X-Amz-Date=20260427T111505Z&X-Amz-Expires=60&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"},
		{"Expires kept, Signature not", "https://d.cloudfront.net/v?Expires=1777300000&Signature=SECRET&Key-Pair-Id=SECRET",
			"https://d.cloudfront.net/v?Expires=1777300000&Signature=REDACTED&Key-Pair-Id=REDACTED"},
		{"userinfo and fragment dropped", "https://user:SECRET@h.example:8443/p?token=SECRET#access_token=SECRET",
			"https://h.example:8443/p?token=REDACTED"},
		{"no query", "https://h.example/a%20b/v.mp4", "https://h.example/a%20b/v.mp4"},
		{"bare name kept", "https://h.example/v?download&x=", "https://h.example/v?download&x=REDACTED"},
		{"empty pairs skipped", "https://h.example/v?&&a=1&&", "https://h.example/v?a=REDACTED"},
		{"undecodable name", "https://h.example/v?%zz=SECRET&Expires=1", "https://h.example/v?REDACTED=REDACTED&Expires=1"},
		{"undecodable safe value", "https://h.example/v?Expires=%zzSECRET", "https://h.example/v?Expires=REDACTED"},
		{"safe value re-escaped", "https://h.example/v?expires=a+b%26c", "https://h.example/v?expires=a+b%26c"},
		{"unparseable", "https://h.example/%zz?sig=SECRET", "REDACTED-URL"},
		{"control character", "https://h.example/v?sig=SECRET\n", "REDACTED-URL"},
		{"opaque", "mailto:SECRET@example.com?subject=x", "REDACTED-URL"},
		{"relative", "/v.mp4?sig=SECRET", "REDACTED-URL"},
		{"no scheme (found by fuzzing)", "//@//", "REDACTED-URL"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactURL(tt.in)
			if got != tt.want {
				t.Errorf("RedactURL(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			assertNoSecret(t, got)
		})
	}
}

func TestRedactText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "task failed, code: InvalidParameter", "task failed, code: InvalidParameter"},
		{"URL without query kept as written", "see https://h.example/视频.mp4 now", "see https://h.example/视频.mp4 now"},
		{"embedded URLs", `download "HTTPS://h.example/v?sig=SECRET1" failed; retry http://g.example/v?auth_key=SECRET2.`,
			`download "https://h.example/v?sig=REDACTED" failed; retry http://g.example/v?auth_key=REDACTED`},
		// A quote may appear in a URL, so it does not end one: the
		// redaction eats it rather than stop short of the query.
		{"URL at the end, in HTML", `<a href='https://h.example/v?t=SECRET'>x</a>`, `<a href='https://h.example/v?t=REDACTED>x</a>`},
		{"apostrophe in the path", `https://h.example/it's.mp4?x=SECRET`, `https://h.example/it's.mp4?x=REDACTED`},
		{"unescaped space splits the query off", "download https://h.example/my video.mp4?X-Tos-Signature=SECRET&a=1 failed",
			"download https://h.example/my video.mp4?X-Tos-Signature=REDACTED&a=1 failed"},
		{"bare credentials", "auth_key=1777288830-0-0-SECRETMD5, token=SECRET&Expires=1 sig= key",
			"auth_key=REDACTED token=REDACTED&Expires=1 sig= key"},
		{"safe names untouched", "X-Tos-Date=20260427T111505Z X-Tos-Expires=86400 preview=1",
			"X-Tos-Date=20260427T111505Z X-Tos-Expires=86400 preview=1"},
		{"broken URL", "GET https://h.example/%zz?sig=SECRET", "GET REDACTED-URL"},
	}
	for _, tt := range tests {
		if got := redactText(tt.in); got != tt.want {
			t.Errorf("%s: redactText(%q)\n got %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestRedactReply(t *testing.T) {
	signed := fmt.Sprintf(`{"code":"success","message":"","data":{"task_id":"asyntask_x","status":"SUCCESS",`+
		`"result_url":%q,"original_result_url":%q,"fail_reason":%q,"submit_time":1777288507,"big":1e400,`+
		`"note":"<b>&</b>","extra":[{"mirror":%q},null,true,1.5],"data":{"content":{"video_url":%q}},`+
		`%q:"odd key","dup":1,"dup":2}}`,
		signedVOD, signedTOS, signedVOD, signedTOS+"&more=1", signedTOS, "https://k.example/?k=SECRETKEY")
	tests := []struct {
		name  string
		in    string
		want  string   // exact output, when set
		wants []string // substrings the output must contain
	}{
		{name: "API example normal", in: string(readTestdata(t, "success_normal.json")),
			wants: []string{`"result_url":"https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/...mp4?..."`}},
		{name: "API example super-resolution", in: string(readTestdata(t, "success_superres.json")),
			wants: []string{`"result_url":"https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=REDACTED"`}},
		{name: "API example failure", in: string(readTestdata(t, "failure.json")),
			wants: []string{`"fail_reason":"task failed, code: InvalidParameter, message: img_url must be set for image to video method"`}},
		{name: "signed URLs everywhere", in: signed, wants: []string{
			`{"code":"success","message":"","data":{"task_id":"asyntask_x","status":"SUCCESS","result_url":"https://v3.vod`,
			`preview=1&auth_key=REDACTED`, `X-Tos-Date=20260427T111505Z&X-Tos-Expires=86400&X-Tos-Signature=REDACTED`,
			`"big":1e400`, `"note":"<b>&</b>"`, `&more=REDACTED"},null,true,1.5]`, `"https://k.example/?k=REDACTED":"odd key"`,
			`"dup":1,"dup":2`,
		}},
		{name: "result_url with an unescaped space", in: `{"result_url":" https://h.example/my video.mp4?q=SECRET "}`,
			want: `{"result_url":"https://h.example/my%20video.mp4?q=REDACTED"}`},
		{name: "top-level string", in: `"` + signedVOD + `"`,
			want: `"https://v3.vod.cn-north-1.volcvideo.com/x/video.mp4?preview=1&auth_key=REDACTED"`},
		{name: "HTML page", in: `<html><a href="` + signedTOS + `">x</a></html>`,
			want: fmt.Sprintf(`"reply is not JSON (%d bytes)"`, len(signedTOS)+29)},
		{name: "truncated JSON", in: `{"result_url":"` + signedTOS, want: fmt.Sprintf(`"reply is not JSON (%d bytes)"`, len(signedTOS)+15)},
		{name: "empty", in: "", want: `"reply is not JSON (0 bytes)"`},
		{name: "two values", in: `{} {}`, want: `"reply is not JSON (5 bytes)"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(RedactReply([]byte(tt.in)))
			if !json.Valid([]byte(got)) {
				t.Fatalf("output is not valid JSON: %s", got)
			}
			assertNoSecret(t, got)
			if tt.want != "" && got != tt.want {
				t.Errorf("RedactReply\n got %s\nwant %s", got, tt.want)
			}
			for _, w := range tt.wants {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %s\n got %s", w, got)
				}
			}
		})
	}
}

func assertNoSecret(tb testing.TB, s string) {
	tb.Helper()
	for _, m := range secretMarkers {
		if strings.Contains(s, m) {
			tb.Errorf("secret %q survived: %s", m, s)
		}
	}
}

// A fail_reason quotes signed URLs and credentials; RedactText is what keeps
// them out of the catalog, the CSV export and the "task failed" log line.
func TestRedactTextSecrets(t *testing.T) {
	tests := []struct {
		name, in string
		keep     []string // must survive
	}{
		{"signed TOS URL in text", "download " + signedTOS + " failed: 403",
			[]string{"download https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/x.mp4?", "X-Tos-Date=20260427T111505Z", "X-Tos-Expires=86400", "failed: 403"}},
		{"a fail_reason that is a URL", signedVOD, []string{"preview=1", "auth_key=REDACTED"}},
		{"URL with an unescaped space", "https://h.example/my video.mp4?q=SECRET", []string{"https://h.example/my%20video.mp4?q=REDACTED"}},
		{"bare auth_key", "cdn refused auth_key=1777288830-0-0-SECRETMD5abcdef (expired)", []string{"cdn refused auth_key=REDACTED (expired)"}},
		{"bare TOS query", "X-Tos-Signature=SECRETSIG&X-Tos-Credential=AKLTSECRET%2F2026&X-Tos-Expires=86400",
			[]string{"X-Tos-Signature=REDACTED&X-Tos-Credential=REDACTED&X-Tos-Expires=86400"}},
		{"AWS credential and token", "X-Amz-Credential=AKIASECRET/20260427 X-Amz-Security-Token=SECRET Signature=SECRET",
			[]string{"X-Amz-Credential=REDACTED X-Amz-Security-Token=REDACTED Signature=REDACTED"}},
		{"token in JSON-ish text", `callback {"url":"https://cb.example/hook?token=SECRET"} token=SECRET`, []string{"token=REDACTED"}},
		{"Chinese reason kept", "任务超时（1440分钟）", []string{"任务超时（1440分钟）"}},
		{"no secrets", "task failed, code: InvalidParameter", []string{"task failed, code: InvalidParameter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactText(tt.in)
			assertNoSecret(t, got)
			for _, k := range tt.keep {
				if !strings.Contains(got, k) {
					t.Errorf("RedactText(%q) = %q, lost %q", tt.in, got, k)
				}
			}
		})
	}
}
