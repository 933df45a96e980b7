package fs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// The conformance suite, with the attributes where a user's Store keeps
// them: on a filesystem with extended attributes (the temp dir's, usually),
// there, and no hidden folder made.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := newTestStore(t)
		if xattrsWork(t, s.root) == nil {
			t.Cleanup(func() {
				if _, err := os.Lstat(filepath.Join(s.root, hiddenDir)); err == nil {
					t.Errorf("%s made on a filesystem that keeps extended attributes", hiddenDir)
				}
			})
		}
		return s
	})
}

func TestRefusesEscapingKeys(t *testing.T) {
	s := newTestStore(t)
	tests := []struct{ name, key string }{
		{"parent", "../x"},
		{"parent inside", "a/../../x"},
		{"absolute", "/abs"},
		{"empty segment", "a//b"},
		{"trailing slash", "a/"},
		{"backslash", `a\b`},
		{"NUL", "a\x00b"},
		{"dot segment", "a/./b"},
		{"empty", ""},
		{"temp name", "a/.reelvault-tmp-123"},
		{"sidecar name", "a/b.reelvault-meta.json"},
		{"layout file", ".reelvault-layout"},
		{"hidden folder", ".reelvault/meta/a.mp4"},
		{"hidden folder in another case", ".ReelVault/x"},
		{"hidden folder alone", ".reelvault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Put(t.Context(), tt.key, strings.NewReader("x"), 1, storage.PutOptions{})
			if !errors.Is(err, errInvalidKey) || !retry.IsPermanent(err) {
				t.Errorf("Put(%q) = %v, want a permanent invalid-key error", tt.key, err)
			}
			if _, err := s.Stat(t.Context(), tt.key); !retry.IsPermanent(err) {
				t.Errorf("Stat(%q) = %v, want a permanent error", tt.key, err)
			}
		})
	}
	// Nothing may have been written outside the root (nor inside it).
	entries, err := os.ReadDir(filepath.Dir(s.root))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "archive" {
		t.Errorf("entries beside the root = %v, want only the root", entries)
	}
}

func TestModes(t *testing.T) {
	s := newTestStore(t)
	const key = "2026/01/video.mp4"
	if err := s.Put(t.Context(), key, strings.NewReader("frames"), 6, storage.PutOptions{}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	hidden := newHiddenStore(t)
	if err := hidden.Put(t.Context(), key, strings.NewReader("frames"), 6, storage.PutOptions{}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{s.root, 0o700},
		{filepath.Join(s.root, "2026"), 0o700},
		{filepath.Join(s.root, "2026", "01"), 0o700},
		{filepath.Join(s.root, s.name(key)), 0o600},
		{filepath.Join(hidden.root, hiddenDir), 0o700},
		{filepath.Join(hidden.root, metaDir), 0o700},
		{filepath.Join(hidden.root, metaDir, "2026", "01"), 0o700},
		{filepath.Join(hidden.root, hiddenMetaPath(hidden.name(key))), 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatalf("stat %s: %v", tt.path, err)
		}
		if got := fi.Mode().Perm(); got != tt.want {
			t.Errorf("mode of %s = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	s := newTestStore(t)
	boom := errors.New("boom")
	_ = s.Put(t.Context(), "dir/a", errReader{boom}, -1, storage.PutOptions{})
	_ = s.Put(t.Context(), "dir/b", strings.NewReader("short"), 10, storage.PutOptions{})
	entries, err := os.ReadDir(filepath.Join(s.root, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind after failed Puts: %s", e.Name())
	}
}

func TestLocation(t *testing.T) {
	s := newTestStore(t)
	if got, want := s.Location(), "file://"+s.root; got != want || !filepath.IsAbs(s.root) {
		t.Errorf("Location() = %q, want %q with an absolute root", got, want)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestWriteErrClassification(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		permanent bool
		msg       string
	}{
		{"disk full", &os.PathError{Op: "write", Path: "/r/.reelvault-tmp-1", Err: syscall.ENOSPC}, true, "disk full writing /r/v.mp4"},
		{"quota", &os.PathError{Op: "write", Path: "/r/.reelvault-tmp-1", Err: syscall.EDQUOT}, true, "disk full writing /r/v.mp4"},
		{"read-only", &os.PathError{Op: "open", Path: "/r/.reelvault-tmp-1", Err: syscall.EROFS}, true, "writing /r/v.mp4"},
		{"I/O error", &os.PathError{Op: "write", Path: "/r/.reelvault-tmp-1", Err: syscall.EIO}, false, "writing /r/v.mp4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := writeErr("/r/v.mp4", tt.err)
			if retry.IsPermanent(err) != tt.permanent || !errors.Is(err, tt.err) || !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("writeErr = %q (permanent %v), want prefix %q, permanent %v, wrapping the cause",
					err, retry.IsPermanent(err), tt.msg, tt.permanent)
			}
		})
	}
}

// A process killed mid-Put leaves its temp files; the retry of that key,
// which a restarted run always makes, must leave the directory clean, and
// must not touch another key's temp files.
func TestPutRemovesLeftoversOfTheSameKey(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	if err := s.Put(ctx, "t/other.mp4", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.root, "t")
	dead := []string{
		filepath.Join(dir, tempStem(filepath.Join(dir, "result.mp4"))+"123"),
		filepath.Join(dir, tempStem(metaPath(filepath.Join(dir, "result.mp4")))+"456"),
	}
	alive := filepath.Join(dir, tempStem(filepath.Join(dir, "other.mp4"))+"789")
	for _, p := range append(dead, alive) {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "t/result.mp4", strings.NewReader("video"), 5, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range dead {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("leftover %s still there after the retry (%v)", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("another key's temp file was removed: %v", err)
	}
}

// A Store holds no open directory: after the root is replaced (a disk
// remounted, a directory moved away), objects go to, and come from, what
// the root path names now, never the old directory; and nothing of the
// Store keeps a mount busy.
func TestRootIsResolvedPerOperation(t *testing.T) {
	s := newTestStore(t)
	if err := s.Put(t.Context(), "a/old.mp4", strings.NewReader("old"), 3, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	moved := s.root + ".moved"
	if err := os.Rename(s.root, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "a/old.mp4"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat with the root gone = %v, want ErrNotExist", err)
	}
	if err := s.Delete(t.Context(), "a/old.mp4"); err != nil {
		t.Errorf("Delete with the root gone = %v, want nil (nothing to delete)", err)
	}
	// A Put recreates the missing root, as it creates the key's folders.
	if err := s.Put(t.Context(), "a/new.mp4", strings.NewReader("new"), 3, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "a", "new.mp4")); err != nil {
		t.Errorf("the new object is not under the root path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(moved, "a", "new.mp4")); !os.IsNotExist(err) {
		t.Errorf("the new object went to the moved-away directory (%v)", err)
	}
	if _, err := s.Stat(t.Context(), "a/old.mp4"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat of an object in the moved-away directory = %v, want ErrNotExist", err)
	}
}

// A file where a key needs a directory (the object "a" and the key "a/b",
// at any depth), or a directory where the object must be, is a permanent
// refusal, as no retry can fix it.
func TestPutWhereAFileStandsForAFolder(t *testing.T) {
	s := newTestStore(t)
	if err := s.Put(t.Context(), "day/a", strings.NewReader("x"), 1, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"day/a/result.mp4", "day/a/deeper/result.mp4"} {
		err := s.Put(t.Context(), key, strings.NewReader("video"), 5, storage.PutOptions{})
		if err == nil || !retry.IsPermanent(err) || !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("Put(%q) = %v; want a permanent not-a-directory error", key, err)
		}
	}
	err := s.Put(t.Context(), "day", strings.NewReader("video"), 5, storage.PutOptions{})
	if err == nil || !retry.IsPermanent(err) || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Put(%q), a directory = %v; want a permanent is-a-directory error", "day", err)
	}
}
