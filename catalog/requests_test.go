package catalog_test

import (
	"testing"

	"github.com/reelvault/reelvault/catalog"
)

// The proxy may record a creation after the daemon already polled the task
// (the intake API or another proxy saw it first): the request's details are
// added, what the gateway said is kept.
func TestRecordCreationKeepsWhatTheGatewaySaid(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	if _, err := db.Track(ctx, []string{"asyntask_a"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Finish(ctx, catalog.Task{TaskID: "asyntask_a", Status: "SUCCESS", Model: "seedance-gw"}, nil, t0); err != nil {
		t.Fatal(err)
	}
	req := catalog.CreationRequest{Model: "seedance-req", Prompt: "a fox", Params: []byte(`{"ratio":"16:9"}`),
		KeyFingerprint: "d40a2817", Source: catalog.SourceProxy}
	if err := db.RecordCreation(ctx, "asyntask_a", req, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordCreation(ctx, "asyntask_new", req, t0); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, "asyntask_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "SUCCESS" || got.Model != "seedance-gw" || got.Prompt != "a fox" || got.Source != catalog.SourceProxy ||
		string(got.RequestParams) != `{"ratio":"16:9"}` || got.KeyFingerprint != "d40a2817" {
		t.Errorf("known task after RecordCreation: %+v", got)
	}
	fresh, err := db.Get(ctx, "asyntask_new")
	if err != nil || fresh.Status != catalog.StatusTracked || fresh.Model != "seedance-req" || fresh.Prompt != "a fox" {
		t.Errorf("new task after RecordCreation: %+v, %v; want tracked with the request's model and prompt", fresh, err)
	}
	if due, _ := db.DuePolls(ctx, t0, 10); len(due) != 1 || due[0].TaskID != "asyntask_new" {
		t.Errorf("due polls %+v: want only the new task", due)
	}
}

// A later record of a task's creation, such as an intake request anyone on
// loopback can send, adds what is missing and never rewrites what the first
// one recorded: the prompt, parameters and key fingerprint stay together.
func TestRecordCreationFirstRecordWins(t *testing.T) {
	db, _ := mustOpen(t)
	ctx := t.Context()
	first := catalog.CreationRequest{Model: "seedance-req", Prompt: "a fox", Params: []byte(`{"ratio":"16:9"}`),
		KeyFingerprint: "d40a2817", Source: catalog.SourceProxy}
	if err := db.RecordCreation(ctx, "asyntask_a", first, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Finish(ctx, catalog.Task{TaskID: "asyntask_a", Status: "SUCCESS"}, nil, t0); err != nil {
		t.Fatal(err)
	}
	later := catalog.CreationRequest{Model: "other-model", Prompt: "rewritten", Source: catalog.SourceIntake}
	if err := db.RecordCreation(ctx, "asyntask_a", later, t0); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, "asyntask_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Prompt != "a fox" || string(got.RequestParams) != `{"ratio":"16:9"}` || got.KeyFingerprint != "d40a2817" ||
		got.Model != "seedance-req" || got.Source != catalog.SourceProxy || got.Status != "SUCCESS" {
		t.Errorf("after a second, different record: prompt %q params %s key %q model %q source %q status %q; "+
			"want the first record's", got.Prompt, got.RequestParams, got.KeyFingerprint, got.Model, got.Source, got.Status)
	}

	// A task tracked without its request (track, or intake with no prompt)
	// gets the request from the first record that has one, and keeps the
	// source it was tracked from.
	if _, err := db.TrackFrom(ctx, []string{"asyntask_b"}, catalog.SourceIntake, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordCreation(ctx, "asyntask_b", first, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Get(ctx, "asyntask_b"); err != nil || got.Prompt != "a fox" || got.KeyFingerprint != "d40a2817" ||
		got.Source != catalog.SourceIntake {
		t.Errorf("tracked task after its first record: %+v, %v; want the request filled in, source intake", got, err)
	}
}
