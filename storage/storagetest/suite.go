// Package storagetest is the conformance suite every storage driver runs
// against a real backend (a temp dir, or the S3 server started by
// scripts/with-s3.sh), plus helpers that locate that server and give each
// test a fresh bucket.
package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/reelvault/reelvault/storage"
)

// Run checks that the stores newStore returns keep the storage.Store
// contract. newStore is called once per subtest and must return an empty
// store (a fresh bucket or directory), so subtests run in parallel. Drivers
// with a part size should configure 5 MiB so the 12 MiB objects here cross
// part boundaries.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("RoundTrip", func(t *testing.T) { t.Parallel(); testRoundTrip(t, newStore) })
	t.Run("FailingReader", func(t *testing.T) { t.Parallel(); testFailingReader(t, newStore) })
	t.Run("WrongSize", func(t *testing.T) { t.Parallel(); testWrongSize(t, newStore) })
	t.Run("Overwrite", func(t *testing.T) { t.Parallel(); testOverwrite(t, newStore(t)) })
	t.Run("Missing", func(t *testing.T) { t.Parallel(); testMissing(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { t.Parallel(); testDelete(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testList(t, newStore(t)) })
	t.Run("Attributes", func(t *testing.T) { t.Parallel(); testAttributes(t, newStore(t)) })
	t.Run("KeyNames", func(t *testing.T) { t.Parallel(); testKeyNames(t, newStore(t)) })
}

func testRoundTrip(t *testing.T, newStore func(t *testing.T) storage.Store) {
	store := newStore(t)
	tests := []struct {
		name      string
		size      int64
		knownSize bool
	}{
		{"empty known size", 0, true},
		{"empty unknown size", 0, false},
		{"small known size", 1000, true},
		{"small unknown size", 1000, false},
		{"multi-part known size", 12 * MiB, true},
		{"multi-part unknown size", 12*MiB + 17, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("roundtrip/%d.bin", i)
			declared := int64(-1)
			if tt.knownSize {
				declared = tt.size
			}
			spy := &eofSpy{r: Payload(uint64(i), tt.size)}
			if err := store.Put(t.Context(), key, spy, declared, storage.PutOptions{}); err != nil {
				t.Fatalf("Put(%q, size %d): %v", key, declared, err)
			}
			if !spy.sawEOF {
				t.Errorf("Put returned before reading the body to io.EOF")
			}
			if got, want := mustSHA256(t, store, key), PayloadSHA256(t, uint64(i), tt.size); got != want {
				t.Errorf("sha256 of Open(%q) = %s, want %s", key, got, want)
			}
			info := mustStat(t, store, key)
			if info.Key != key || info.Size != tt.size {
				t.Errorf("Stat(%q) = key %q size %d, want key %q size %d", key, info.Key, info.Size, key, tt.size)
			}
			if info.ModTime.IsZero() {
				t.Errorf("Stat(%q).ModTime is zero", key)
			}
		})
	}
}

func testFailingReader(t *testing.T, newStore func(t *testing.T) storage.Store) {
	store := newStore(t)
	tests := []struct {
		name      string
		size      int64 // bytes the source would have had
		failAfter int64
		knownSize bool
	}{
		{"immediately unknown size", 1000, 0, false},
		{"small known size", 1000, 500, true},
		{"small unknown size", 1000, 500, false},
		{"after first part known size", 12 * MiB, 7 * MiB, true},
		{"after first part unknown size", 12 * MiB, 7 * MiB, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("failing/%d.bin", i)
			sourceErr := fmt.Errorf("signed URL expired (source %d)", i)
			r := &failingReader{r: Payload(uint64(i), tt.size), n: tt.failAfter, err: sourceErr}
			declared := int64(-1)
			if tt.knownSize {
				declared = tt.size
			}
			err := store.Put(t.Context(), key, r, declared, storage.PutOptions{})
			if !errors.Is(err, sourceErr) {
				t.Fatalf("Put with a reader failing after %d bytes: got %v, want an error wrapping %q", tt.failAfter, err, sourceErr)
			}
			assertNotExist(t, store, key)
		})
	}
}

func testWrongSize(t *testing.T, newStore func(t *testing.T) storage.Store) {
	store := newStore(t)
	tests := []struct {
		name     string
		declared int64
		actual   int64
	}{
		{"short small", 1000, 999},
		{"short empty", 10, 0},
		{"short multi-part", 12 * MiB, 7 * MiB},
		{"long small", 1000, 1001},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("wrongsize/%d.bin", i)
			err := store.Put(t.Context(), key, Payload(uint64(i), tt.actual), tt.declared, storage.PutOptions{})
			if err == nil {
				t.Fatalf("Put(%q) of %d bytes declared as %d: got nil error", key, tt.actual, tt.declared)
			}
			assertNotExist(t, store, key)
		})
	}
}

func testOverwrite(t *testing.T, store storage.Store) {
	const key = "overwrite/video.mp4"
	mustPut(t, store, key, 1, 3000, storage.PutOptions{ContentType: "video/mp4", Metadata: map[string]string{"old": "1"}})
	mustPut(t, store, key, 2, 1000, storage.PutOptions{ContentType: "video/webm"})
	if got, want := mustSHA256(t, store, key), PayloadSHA256(t, 2, 1000); got != want {
		t.Errorf("after overwrite sha256 = %s, want %s (the second body)", got, want)
	}
	info := mustStat(t, store, key)
	if info.Size != 1000 || info.ContentType != "video/webm" {
		t.Errorf("after overwrite Stat = size %d type %q, want 1000 %q", info.Size, info.ContentType, "video/webm")
	}
	if _, ok := info.Metadata["old"]; ok {
		t.Errorf("after overwrite Metadata = %v, want the old object's metadata gone", info.Metadata)
	}
}

func testMissing(t *testing.T, store storage.Store) {
	assertNotExist(t, store, "missing/nothing.mp4")
	if err := store.Delete(t.Context(), "missing/nothing.mp4"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
}

func testDelete(t *testing.T, store storage.Store) {
	const key = "delete/video.mp4"
	mustPut(t, store, key, 1, 100, storage.PutOptions{ContentType: "video/mp4"})
	if err := store.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	assertNotExist(t, store, key)
	if err := store.Delete(t.Context(), key); err != nil {
		t.Errorf("second Delete(%q) = %v, want nil", key, err)
	}
}

func testList(t *testing.T, store storage.Store) {
	// "a-b" sorts before "a/..." ('-' < '/'): a driver walking directories
	// depth-first gets this wrong.
	sizes := map[string]int64{"a/1": 1, "a/10": 10, "a/2": 2, "a-b": 3, "a/b/c": 4, "b": 5, "ab": 6}
	for i, key := range slices.Sorted(maps.Keys(sizes)) {
		mustPut(t, store, key, uint64(i), sizes[key], storage.PutOptions{})
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-b", "a/1", "a/10", "a/2", "a/b/c", "ab", "b"}},
		{"a/", []string{"a/1", "a/10", "a/2", "a/b/c"}},
		{"a/1", []string{"a/1", "a/10"}},
		{"a/b/", []string{"a/b/c"}},
		{"a", []string{"a-b", "a/1", "a/10", "a/2", "a/b/c", "ab"}},
		{"c", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix %q", tt.prefix), func(t *testing.T) {
			var got []string
			err := store.List(t.Context(), tt.prefix, func(info storage.ObjectInfo) error {
				got = append(got, info.Key)
				if info.Size != sizes[info.Key] {
					t.Errorf("List: %q has size %d, want %d", info.Key, info.Size, sizes[info.Key])
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		err := store.List(t.Context(), "", func(storage.ObjectInfo) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List with failing fn = %v after %d calls, want %q after 1", err, calls, stop)
		}
	})
}

func testAttributes(t *testing.T, store storage.Store) {
	tests := []struct {
		name string
		opts storage.PutOptions
	}{
		{"none", storage.PutOptions{}},
		{"all", storage.PutOptions{
			ContentType:        "video/mp4",
			ContentDisposition: `attachment; filename="cat video.mp4"`,
			Metadata:           map[string]string{"task-id": "tsk_01HZX", "model": "veo-3", "prompt-sha256": "9f86d081"},
			Tags:               map[string]string{"provider": "veo", "retention": "30d"},
		}},
		{"type only", storage.PutOptions{ContentType: "application/json"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("attrs/%d", i)
			mustPut(t, store, key, uint64(i), 10, tt.opts)
			info := mustStat(t, store, key)
			if tt.opts.ContentType != "" && info.ContentType != tt.opts.ContentType {
				t.Errorf("ContentType = %q, want %q", info.ContentType, tt.opts.ContentType)
			}
			if info.ContentDisposition != tt.opts.ContentDisposition {
				t.Errorf("ContentDisposition = %q, want %q", info.ContentDisposition, tt.opts.ContentDisposition)
			}
			if !maps.Equal(info.Metadata, tt.opts.Metadata) {
				t.Errorf("Metadata = %v, want %v", info.Metadata, tt.opts.Metadata)
			}
		})
	}
}

func testKeyNames(t *testing.T, store storage.Store) {
	keys := []string{
		"with space/file name.mp4",
		"ünïcödé/视频 🎬.mp4",
		"plus+percent%20amp&eq=semi;.mp4",
		"deep/a/b/c/d/e/task.json",
		"dots.in.name/v1.2.3.mp4",
	}
	for i, key := range keys {
		mustPut(t, store, key, uint64(i), int64(100+i), storage.PutOptions{ContentType: "video/mp4"})
		if got, want := mustSHA256(t, store, key), PayloadSHA256(t, uint64(i), int64(100+i)); got != want {
			t.Errorf("sha256 of Open(%q) = %s, want %s", key, got, want)
		}
		if info := mustStat(t, store, key); info.Key != key {
			t.Errorf("Stat(%q).Key = %q", key, info.Key)
		}
	}
	var listed []string
	if err := store.List(t.Context(), "", func(info storage.ObjectInfo) error {
		listed = append(listed, info.Key)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := slices.Sorted(slices.Values(keys)); !slices.Equal(listed, want) {
		t.Errorf("List = %q, want %q", listed, want)
	}
}

func mustPut(t *testing.T, store storage.Store, key string, seed uint64, size int64, opts storage.PutOptions) {
	t.Helper()
	if err := store.Put(t.Context(), key, Payload(seed, size), size, opts); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustStat(t *testing.T, store storage.Store, key string) storage.ObjectInfo {
	t.Helper()
	info, err := store.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	return info
}

func mustSHA256(t *testing.T, store storage.Store, key string) string {
	t.Helper()
	rc, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	return readSHA256(t, rc)
}

func assertNotExist(t *testing.T, store storage.Store, key string) {
	t.Helper()
	if _, err := store.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%q) = %v, want an error wrapping storage.ErrNotExist", key, err)
	}
	rc, err := store.Open(t.Context(), key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Open(%q) = %v, want an error wrapping storage.ErrNotExist", key, err)
	}
}
