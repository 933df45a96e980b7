package archiver

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
	"github.com/reelvault/reelvault/gateway"
)

// TestAbsurdGatewayTimesNeverReachTheArchive decodes the times a broken
// gateway sent (finish_time 99999999999999, a signed URL dated 2199,
// negative times) as the client does and hands the task to the archiver:
// the task's times are dropped, every expiry is at most a week ahead and
// not before 1970, and the task's record encodes.
func TestAbsurdGatewayTimesNeverReachTheArchive(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	a := &Archiver{log: slog.New(slog.NewTextHandler(io.Discard, nil)), warned: map[string]bool{}}
	tos := func(date string, expires string) string {
		return "https://tos.example.com/v.mp4?X-Tos-Date=" + date + "&X-Tos-Expires=" + expires + "&X-Tos-Signature=s"
	}
	for _, tt := range []struct {
		name   string
		task   gateway.Task
		wantAt time.Time // expected expiry of the result
	}{
		{"finish time in year 3170843", gateway.Task{FinishTime: 99999999999999, ResultURL: "https://cdn.example.com/v.mp4"},
			now.Add(24 * time.Hour)},
		{"URL signed in year 2199", gateway.Task{FinishTime: now.Unix(), ResultURL: tos("21991231T000000Z", "86400")},
			now.Add(maxURLLife)},
		{"URL valid for a year", gateway.Task{FinishTime: now.Unix(), ResultURL: tos("20261128T120000Z", "31622400")},
			now.Add(maxURLLife)},
		{"negative times", gateway.Task{SubmitTime: -5, StartTime: -1 << 62, FinishTime: -99999999999999,
			ResultURL: "https://cdn.example.com/v.mp4"}, now.Add(24 * time.Hour)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			task := decoded(t, tt.task)
			for name, v := range map[string]int64{"submit": task.SubmitTime, "start": task.StartTime, "finish": task.FinishTime} {
				if v < 0 || v > now.Add(7*24*time.Hour).Unix() {
					t.Errorf("%s_time %d kept", name, v)
				}
			}
			assets := a.assetsOf(&task, now)
			if len(assets) != 1 {
				t.Fatalf("%d assets, want 1", len(assets))
			}
			if got := assets[0].ExpiresAt; !got.Equal(tt.wantAt) {
				t.Errorf("expiry %v, want %v", got, tt.wantAt)
			}
			rec := taskRecord(&task, []byte(`{}`))
			rec.Assets = []catalog.Asset{assets[0]}
			if _, err := json.Marshal(Sidecar{WrittenAt: now, Archive: rec}); err != nil {
				t.Errorf("task.json does not encode: %v", err)
			}
			if key, err := videoKey("", "", rec, catalog.KindResult); err != nil || strings.Contains(key, "3170843") {
				t.Errorf("object key %q (%v), want one dated by a real time", key, err)
			}
		})
	}
}

// decoded encodes task as the gateway's reply and decodes it the way the
// client does.
func decoded(t *testing.T, task gateway.Task) gateway.Task {
	t.Helper()
	reply, err := json.Marshal(map[string]any{"code": "success", "data": map[string]any{
		"task_id": "asyntask_absurd", "status": "SUCCESS", "result_url": task.ResultURL,
		"submit_time": task.SubmitTime, "start_time": task.StartTime, "finish_time": task.FinishTime}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := gateway.Decode(reply) // now is within a week of the real clock
	if err != nil {
		t.Fatal(err)
	}
	return *got
}
