package fs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/storage"
)

var _ storage.UploadAborter = (*Store)(nil)

// A crashed Put leaves temp files and, between its two renames, an
// attribute file without data, in the object's folder (older versions) or
// the hidden folder. Cleanup removes old ones under the prefix and nothing
// else: not fresh temp files (a Put may be writing them), not other
// prefixes, not objects or their attributes, wherever those are.
func TestAbortIncompleteUploadsRemovesStaleLeftovers(t *testing.T) {
	s := newHiddenStore(t)
	ctx := t.Context()
	for _, key := range []string{"reels/2026/a/result.mp4", "other/b/result.mp4"} {
		if err := s.Put(ctx, key, strings.NewReader("frames"), 6, storage.PutOptions{ContentType: "video/mp4"}); err != nil {
			t.Fatal(err)
		}
	}
	writeOldObject(t, s.root, "reels/2026/old/result.mp4", "frames", oldVideoSidecar)
	old := time.Now().Add(-2 * StaleAfter)
	path := func(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }
	write := func(rel string, mtime time.Time) string {
		p := path(rel)
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
	hidden := ".reelvault/meta/"
	staleTmp := write("reels/2026/a/"+tmpPrefix+"111", old)
	staleDeep := write("reels/2026/c/"+tmpPrefix+"222", old)
	lonelySidecar := write("reels/2026/c/original.mp4"+metaSuffix, old)
	staleHiddenTmp := write(hidden+"reels/2026/a/"+tmpPrefix+"555", old)
	lonelyHidden := write(hidden+"reels/2026/c/original.mp4"+metaSuffix, old)
	freshTmp := write("reels/2026/a/"+tmpPrefix+"333", time.Now())
	otherPrefix := write("other/b/"+tmpPrefix+"444", old)
	otherHidden := write(hidden+"other/x/gone.mp4"+metaSuffix, old)
	// Attribute files whose object exists are the object's attributes
	// (an old sidecar's move to the hidden folder: TestCleanupMovesOldSidecars).
	objSidecar := path("reels/2026/old/result.mp4" + metaSuffix)
	objHidden := path(hidden + "reels/2026/a/result.mp4" + metaSuffix)
	for _, p := range []string{objSidecar, objHidden} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	n, err := s.AbortIncompleteUploads(ctx, "reels/")
	if err != nil || n != 5 {
		t.Fatalf("AbortIncompleteUploads(reels/) = %d, %v; want 5 removed", n, err)
	}
	for _, p := range []string{staleTmp, staleDeep, lonelySidecar, staleHiddenTmp, lonelyHidden} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: still there (%v), want removed", p, err)
		}
	}
	for _, p := range []string{freshTmp, otherPrefix, otherHidden, objHidden, path(hidden + "reels/2026/old/result.mp4" + metaSuffix)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	for _, key := range []string{"reels/2026/a/result.mp4", "reels/2026/old/result.mp4"} {
		info, err := s.Stat(ctx, key)
		if err != nil || info.Size != 6 || info.ContentType != "video/mp4" {
			t.Errorf("%s after cleanup: %+v, %v; want it intact with its attributes", key, info, err)
		}
	}
	// From the top, the hidden folder is searched once, by its own rules.
	if n, err := s.AbortIncompleteUploads(ctx, ""); err != nil || n != 2 {
		t.Errorf("AbortIncompleteUploads(\"\") = %d, %v; want 2 removed (the other prefix's)", n, err)
	}
	if _, err := os.Stat(objHidden); err != nil {
		t.Errorf("cleanup from the top removed a live attribute file: %v", err)
	}
	if n, err := s.AbortIncompleteUploads(ctx, "missing/"); err != nil || n != 0 {
		t.Errorf("AbortIncompleteUploads(missing/) = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.AbortIncompleteUploads(ctx, "../"); err == nil {
		t.Error("AbortIncompleteUploads(../) succeeded; want an error, never a walk outside the root")
	}
}

// An archive written by an older version, a sidecar beside each object,
// holds only its objects after a cleanup (every run begins with one): each
// sidecar's attributes moved out of sight, none lost, no object touched. A
// sidecar that cannot be read as attributes stays, for Stat to report.
func TestCleanupMovesOldSidecars(t *testing.T) {
	for _, mode := range attrModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t)
			dir := "2026/04/27/asyntask_AbC/"
			writeOldObject(t, s.root, dir+"result.mp4", "video", oldVideoSidecar)
			writeOldObject(t, s.root, dir+"original.mp4", "original", oldVideoSidecar)
			writeOldObject(t, s.root, dir+"task.json", "{}", oldTaskSidecar)
			writeOldObject(t, s.root, "2026/04/28/asyntask_bad/result.mp4", "video", `{"content_type":`)
			mtime := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
			for _, key := range archiveKeys[:3] {
				if err := os.Chtimes(filepath.Join(s.root, key), mtime, mtime); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.AbortIncompleteUploads(t.Context(), ""); err != nil || n != 0 {
				t.Fatalf("AbortIncompleteUploads = %d, %v; want 0 (nothing was unfinished), nil", n, err)
			}
			want := append(slices.Clone(archiveKeys[:3]), "2026/04/28/asyntask_bad/result.mp4", "2026/04/28/asyntask_bad/result.mp4"+metaSuffix)
			slices.Sort(want)
			if got := filesInFolder(t, s.root); !slices.Equal(got, want) {
				t.Errorf("files in the archive folder after cleanup:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			for _, key := range archiveKeys[:3] {
				assertAttrs(t, s, key, optsFor(key))
				if info, err := s.Stat(t.Context(), key); err != nil || !info.ModTime.Equal(mtime) {
					t.Errorf("Stat(%q).ModTime = %v (%v), want %v: moving attributes must not touch the object", key, info.ModTime, err, mtime)
				}
				_, inXattr := storedXattr(t, filepath.Join(s.root, key))
				if inXattr != (mode.name == "xattr") {
					t.Errorf("%s: attributes in the extended attribute %v, want it only in mode %s", key, inXattr, mode.name)
				}
			}
			if _, err := s.Stat(t.Context(), "2026/04/28/asyntask_bad/result.mp4"); err == nil || !strings.Contains(err.Error(), "corrupt attributes") {
				t.Errorf("Stat of the object with the corrupt sidecar = %v, want it reported", err)
			}
		})
	}
}
