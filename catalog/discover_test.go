package catalog_test

import (
	"slices"
	"testing"
	"time"

	"github.com/reelvault/reelvault/catalog"
)

func TestTrackDiscoveredReturnsOnlyNewIDsAndKeepsTheFirstSource(t *testing.T) {
	cat, _ := mustOpen(t)
	ctx, now := t.Context(), time.Now()
	if _, err := cat.TrackFrom(ctx, []string{"asyntask_known"}, catalog.SourceCLI, now); err != nil {
		t.Fatal(err)
	}
	added, err := cat.TrackDiscovered(ctx, []string{"asyntask_new1", "asyntask_known", "asyntask_new2"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"asyntask_new1", "asyntask_new2"}; !slices.Equal(added, want) {
		t.Fatalf("added %v, want %v", added, want)
	}
	for id, want := range map[string]string{"asyntask_known": catalog.SourceCLI, "asyntask_new1": catalog.SourceDiscover} {
		got, err := cat.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Source != want {
			t.Errorf("%s: source %q, want %q", id, got.Source, want)
		}
	}
}
