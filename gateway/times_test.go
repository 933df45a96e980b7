package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A reply's times become expiries and sidecar fields that are JSON-encoded
// later; one that no encoder can write once crash-looped the daemon.
func TestDecodeImplausibleTimes(t *testing.T) {
	now := time.Date(2026, 4, 27, 11, 15, 5, 0, time.UTC)
	tests := []struct {
		name  string
		value string // JSON for the time field
		want  int64
	}{
		{"plausible", "1777288800", 1777288800},
		{"absent", "0", 0},
		{"a day ahead of our clock", fmt.Sprint(now.Add(24 * time.Hour).Unix()), now.Add(24 * time.Hour).Unix()},
		{"from the issue: year 3170843", "99999999999999", 0},
		{"as a string", `"99999999999999"`, 0},
		{"year 10000", "253402300800", 0},
		{"max int64", "9223372036854775807", 0},
		{"float near max int64", "9.2e18", 0},
		{"negative", "-1", 0},
		{"min int64", "-9223372036854775808", 0},
		{"near 1970", "1", 0},
		{"before 2000", "946684799", 0},
		{"eight days ahead of our clock", fmt.Sprint(now.Add(8 * 24 * time.Hour).Unix()), 0},
		{"year 2200", "7258118400", 0},
	}
	for _, field := range []string{"submit_time", "start_time", "finish_time"} {
		for _, tt := range tests {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				body := fmt.Sprintf(`{"code":"success","data":{"task_id":%q,"status":"SUCCESS",%q:%s}}`, testID, field, tt.value)
				c := newTestClient(t, respond(http.StatusOK, "application/json", body), now)
				task, _, err := c.Task(t.Context(), testID)
				if err != nil {
					t.Fatalf("Task: %v", err)
				}
				got := map[string]int64{"submit_time": task.SubmitTime, "start_time": task.StartTime, "finish_time": task.FinishTime}[field]
				if got != tt.want {
					t.Errorf("%s = %d, want %d", field, got, tt.want)
				}
				warned := len(task.Warnings) == 1 && strings.Contains(task.Warnings[0], field)
				if wantWarning := tt.want == 0 && tt.value != "0"; warned != wantWarning {
					t.Errorf("warnings %q, want one naming %s: %v", task.Warnings, field, wantWarning)
				}
				// What the poller does with a finish time: it is the issue
				// time of the video URLs, and plus a day their expiry.
				issued := now
				if task.FinishTime > 0 {
					issued = time.Unix(task.FinishTime, 0)
				}
				if _, err := json.Marshal(issued.Add(24 * time.Hour)); err != nil {
					t.Errorf("the expiry this reply implies cannot be stored: %v", err)
				}
			})
		}
	}
}

// Decode, without a client, checks times against the real clock.
func TestDecodeTimesAgainstClock(t *testing.T) {
	body := `{"code":"success","data":{"task_id":"t","status":"FAILURE","submit_time":1777288506,"finish_time":99999999999999}}`
	task, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if task.SubmitTime != 1777288506 || task.FinishTime != 0 || len(task.Warnings) != 1 {
		t.Errorf("submit %d, finish %d, warnings %q; want 1777288506, 0 and one warning",
			task.SubmitTime, task.FinishTime, task.Warnings)
	}
}
