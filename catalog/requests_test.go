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
