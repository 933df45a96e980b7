package gateway_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/reelvault/reelvault/gateway"
	"github.com/reelvault/reelvault/simulator"
)

// The client and the simulator were written apart from each other, each from
// API.md; this test makes them agree on the wire for every life-cycle stage.
func TestClientAgainstSimulator(t *testing.T) {
	now := time.Date(2026, 4, 27, 11, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Config{Clock: func() time.Time { return now }, Seed: 3})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := gateway.NewClient(srv.URL, "sim-key", srv.Client())

	yes, no := true, false
	normal := sim.CreateTask(simulator.TaskOptions{SuperResolution: &no, Fail: &no})
	sr := sim.CreateTask(simulator.TaskOptions{SuperResolution: &yes, Fail: &no})
	failed := sim.CreateTask(simulator.TaskOptions{Fail: &yes})

	task, _, err := c.Task(t.Context(), normal)
	if err != nil || task.Status.Terminal() {
		t.Fatalf("fresh task: %+v, %v; want a non-terminal status", task, err)
	}
	now = now.Add(time.Hour)
	for _, tc := range []struct {
		id      string
		status  gateway.Status
		videos  int
		failure bool
	}{
		{normal, gateway.StatusSuccess, 1, false},
		{sr, gateway.StatusSuccess, 2, false},
		{failed, gateway.StatusFailure, 0, true},
	} {
		task, raw, err := c.Task(t.Context(), tc.id)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if task.Status != tc.status || len(raw) == 0 {
			t.Errorf("%s: status %s, want %s", tc.id, task.Status, tc.status)
		}
		if (task.Failure() != "") != tc.failure {
			t.Errorf("%s: Failure() = %q", tc.id, task.Failure())
		}
		videos := 0
		for _, u := range []string{task.VideoURL(), task.OriginalResultURL} {
			if u == "" {
				continue
			}
			videos++
			exp, ok := gateway.URLExpiry(u, time.Unix(task.FinishTime, 0))
			if !ok || exp.Sub(time.Unix(task.FinishTime, 0)) != 24*time.Hour {
				t.Errorf("%s: URLExpiry(%s) = %v, %v; want finish + 24h", tc.id, gateway.RedactURL(u), exp, ok)
			}
		}
		if videos != tc.videos {
			t.Errorf("%s: %d video URLs, want %d", tc.id, videos, tc.videos)
		}
		if tc.videos == 2 && task.Upstream.SuperResolution == "" {
			t.Errorf("%s: super-resolution task without super_resolution", tc.id)
		}
	}
	if _, _, err := c.Task(t.Context(), "asyntask_nope"); !errors.Is(err, gateway.ErrTaskNotFound) {
		t.Errorf("unknown task: %v, want ErrTaskNotFound", err)
	}
	bad := gateway.NewClient(srv.URL, "wrong", &http.Client{})
	if _, _, err := bad.Task(t.Context(), normal); !errors.Is(err, gateway.ErrKeyRejected) {
		t.Errorf("wrong key: %v, want ErrKeyRejected", err)
	}
}
