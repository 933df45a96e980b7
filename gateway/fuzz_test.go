package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Run one target at a time, e.g. go test -run='^$' -fuzz=FuzzDecode -fuzztime=10s ./gateway/

// replySeeds are the API examples and the odd replies the unit tests use.
func replySeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		readTestdata(f, "success_normal.json"),
		readTestdata(f, "success_superres.json"),
		readTestdata(f, "failure.json"),
		[]byte(`{"code":"success","data":{"task_id":"t","status":"IN_PROGRESS","submit_time":"1777288506","progress":50,` +
			`"data":{"duration":"5","generate_audio":"true","seed":1e30,"usage":{"total_tokens":1e400}}}}`),
		[]byte(`{"code":null,"data":{"task_id":12,"status":" success ","data":"x","result_url":` + `"` + signedTOS + `"}}`),
		[]byte(`{"code":"task_not_exist","message":"task_not_exist","data":null}`),
		[]byte(`{"error":{"message":"invalid token","type":"new_api_error"}}`),
		[]byte(`{"code":"fail","message":"see ` + signedVOD + "\x1b[31m\"}"),
		[]byte(`<html><body>Just a moment...</body></html>`),
		[]byte(`{"code":"success","data":{"status":"SUCC`),
		[]byte(`[]`),
		[]byte(``),
		[]byte(strings.Repeat(`{"a":`, 40) + `"https://h/?sig=x"` + strings.Repeat(`}`, 40)),
		[]byte(`{"code":"success","data":{"status":"FAILURE","fail_reason":"\u0068ttps://h/v?t=x token=y","finish_time":99999999999999}}`),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	return seeds
}

func FuzzDecode(f *testing.F) {
	replySeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		task, err := Decode(body)
		if (task == nil) == (err == nil) {
			t.Fatalf("Decode = %v, %v: want exactly one of task and error", task, err)
		}
		if err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) == errors.Is(err, ErrBadReply) {
				t.Fatalf("err %v: want exactly one of *APIError and ErrBadReply", err)
			}
			if apiErr != nil {
				assertClean(t, apiErr.Code, 64)
				assertClean(t, apiErr.Message, 200)
			}
			return
		}
		if task.Status == "" || string(task.Status) != strings.ToUpper(strings.TrimSpace(string(task.Status))) {
			t.Fatalf("status %q not normalised", task.Status)
		}
		if task.Status.Terminal() && !task.Status.Known() {
			t.Fatalf("status %q terminal but unknown", task.Status)
		}
		// Every time is absent or one any encoder can write.
		for _, ts := range []int64{task.SubmitTime, task.StartTime, task.FinishTime} {
			if ts != 0 && (ts < minPlausible || ts >= maxPlausible) {
				t.Fatalf("time %d kept from %q", ts, body)
			}
		}
		// A reply Decode accepted is JSON, so its redacted form must not
		// degrade to the not-JSON placeholder.
		if out := RedactReply(body); bytes.HasPrefix(out, []byte(`"reply is not JSON`)) {
			t.Fatalf("Decode accepted %q but RedactReply calls it not JSON", body)
		}
	})
}

func FuzzURLExpiry(f *testing.F) {
	for _, s := range []string{
		signedTOS, signedVOD,
		"https://s3.example/b/k?X-Amz-Date=20260427T111505Z&X-Amz-Expires=60&X-Amz-Signature=ff",
		"https://d.cloudfront.net/v?Expires=1777300000&Signature=x&Key-Pair-Id=K",
		"https://x.example/v?x-oss-date=20260427T111505Z&x-oss-expires=99999999999",
		"https://x.example/v?auth_key=1777296034-0-0-abc&Expires=1777290000",
		"https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/...mp4?...",
		"http://[::1%zz]/x?Expires=1", "https://u:p@h/p?a=%zz#f", "mailto:x@y?z=1", "",
	} {
		f.Add(s, int64(1777288834))
	}
	f.Fuzz(func(t *testing.T, raw string, issuedUnix int64) {
		issued := time.Unix(issuedUnix, 0)
		if exp, ok := URLExpiry(raw, issued); ok {
			if exp.Location() != time.UTC {
				t.Fatalf("expiry %v not in UTC", exp)
			}
			// Every recognised form is bounded: a plausible date plus at
			// most a year's lifetime.
			lo := time.Unix(minPlausible, 0)
			hi := time.Unix(maxPlausible, 0).Add(maxLifetime + authKeyValidity)
			if exp.Before(lo) || exp.After(hi) {
				t.Fatalf("URLExpiry(%q) = %v, outside [%v, %v]", raw, exp, lo, hi)
			}
		} else if !exp.IsZero() {
			t.Fatalf("URLExpiry(%q) = %v with ok=false", raw, exp)
		}
		red := RedactURL(raw)
		assertURLRedacted(t, raw, red)
		if again := RedactURL(red); again != red {
			t.Fatalf("RedactURL not idempotent on %q:\n once %q\ntwice %q", raw, red, again)
		}
	})
}

func FuzzRedactReply(f *testing.F) {
	replySeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := RedactReply(raw)
		if !json.Valid(out) {
			t.Fatalf("RedactReply(%q) = %q: not valid JSON", raw, out)
		}
		if !json.Valid(trimBOM(raw)) {
			if want := notJSON(raw); !bytes.Equal(out, want) {
				t.Fatalf("RedactReply(%q) = %q, want %q", raw, out, want)
			}
			return
		}
		if again := RedactReply(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n once %q\ntwice %q", out, again)
		}
		// What is stored stays small when indented.
		if depth, size := measure(out); depth > maxKeptDepth || size > maxKeptBytes {
			t.Fatalf("RedactReply(%q): depth %d, indented size %d", raw, depth, size)
		}
		// Every URL left in any string has its secrets redacted.
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			if s, ok := tok.(string); ok {
				for _, u := range embeddedURLs(s) {
					assertURLRedacted(t, u, u)
				}
			}
		}
	})
}

// assertURLRedacted checks RedactURL's promise about out, the redaction of
// in: no userinfo, no fragment, and no query value outside the safe list.
func assertURLRedacted(t *testing.T, in, out string) {
	t.Helper()
	if out == "REDACTED-URL" {
		return
	}
	u, err := url.Parse(out)
	if err != nil {
		t.Fatalf("RedactURL(%q) = %q, which does not parse: %v", in, out, err)
	}
	if u.User != nil || u.Fragment != "" {
		t.Fatalf("RedactURL(%q) = %q keeps userinfo or fragment", in, out)
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		name, value, hasValue := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if hasValue && value != "REDACTED" && !safeParam(name) {
			t.Fatalf("RedactURL(%q) = %q keeps the value of %q", in, out, name)
		}
	}
}

// embeddedURLs finds the http(s) URLs with a query in s, independently of
// redactText: a URL runs to the next character that cannot appear unescaped
// in one (RFC 3986), which is never later than where redactText stops.
func embeddedURLs(s string) []string {
	var urls []string
	lower := strings.ToLower(s) // only used when lengths agree
	if len(lower) != len(s) {
		lower = s
	}
	for i := 0; i < len(s); i++ {
		if !strings.HasPrefix(lower[i:], "http://") && !strings.HasPrefix(lower[i:], "https://") {
			continue
		}
		end := strings.IndexFunc(s[i:], func(r rune) bool {
			return r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("\"<>`{}|\\^", r)
		})
		if end < 0 {
			end = len(s) - i
		}
		if u := s[i : i+end]; strings.Contains(u, "?") {
			urls = append(urls, u)
		}
	}
	return urls
}

func assertClean(t *testing.T, s string, max int) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		t.Fatalf("%q is not clean text", s)
	}
	if len(s) > max+len("…") {
		t.Fatalf("%q is longer than %d bytes", s, max)
	}
}
