package fs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/storage"
)

var _ storage.UploadAborter = (*Store)(nil)

// A crashed Put leaves temp files and, between its two renames, a sidecar
// without data. Cleanup removes old ones under the prefix and nothing else:
// not fresh temp files (a Put may be writing them), not other prefixes, not
// objects or their sidecars.
func TestAbortIncompleteUploadsRemovesStaleLeftovers(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for _, key := range []string{"reels/2026/a/result.mp4", "other/b/result.mp4"} {
		if err := s.Put(ctx, key, strings.NewReader("frames"), 6, storage.PutOptions{ContentType: "video/mp4"}); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * StaleAfter)
	write := func(rel string, mtime time.Time) string {
		p := filepath.Join(s.root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	staleTmp := write("reels/2026/a/"+tmpPrefix+"111", old)
	staleDeep := write("reels/2026/c/"+tmpPrefix+"222", old)
	lonelySidecar := write("reels/2026/c/original.mp4"+metaSuffix, old)
	freshTmp := write("reels/2026/a/"+tmpPrefix+"333", time.Now())
	otherPrefix := write("other/b/"+tmpPrefix+"444", old)
	// An old sidecar whose object exists is the object's attributes.
	objSidecar := filepath.Join(s.root, "reels", "2026", "a", "result.mp4"+metaSuffix)
	if err := os.Chtimes(objSidecar, old, old); err != nil {
		t.Fatal(err)
	}

	n, err := s.AbortIncompleteUploads(ctx, "reels/")
	if err != nil || n != 3 {
		t.Fatalf("AbortIncompleteUploads(reels/) = %d, %v; want 3 removed", n, err)
	}
	for _, p := range []string{staleTmp, staleDeep, lonelySidecar} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: still there (%v), want removed", p, err)
		}
	}
	for _, p := range []string{freshTmp, otherPrefix, objSidecar} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	info, err := s.Stat(ctx, "reels/2026/a/result.mp4")
	if err != nil || info.Size != 6 || info.ContentType != "video/mp4" {
		t.Errorf("object after cleanup: %+v, %v; want it intact with its attributes", info, err)
	}
	if n, err := s.AbortIncompleteUploads(ctx, "missing/"); err != nil || n != 0 {
		t.Errorf("AbortIncompleteUploads(missing/) = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.AbortIncompleteUploads(ctx, "../"); err == nil {
		t.Error("AbortIncompleteUploads(../) succeeded; want an error, never a walk outside the root")
	}
}
