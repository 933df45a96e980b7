package fs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// linkedStore is a store whose root holds symlinks to a directory and a
// file outside it, absolute and relative, next to one real object.
type linkedStore struct {
	*Store
	outside string // the directory the links point into
	secret  string // a file in it
}

func newLinkedStore(t *testing.T) linkedStore {
	t.Helper()
	s := newTestStore(t)
	outside := filepath.Join(filepath.Dir(s.root), "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.mp4")
	if err := os.WriteFile(secret, []byte("outside secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(s.root, outside)
	if err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"absdir":       outside,
		"reldir":       rel,
		"deep/reldir":  filepath.Join("..", rel),
		"absfile.mp4":  secret,
		"relfile.mp4":  filepath.Join(rel, "secret.mp4"),
		"chain/hop":    filepath.Join("..", "reldir"), // inside, to a link that leads out
		"dangling.mp4": filepath.Join(rel, "missing.mp4"),
	} {
		p := filepath.Join(s.root, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(t.Context(), "real/video.mp4", strings.NewReader("frames"), 6, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return linkedStore{Store: s, outside: outside, secret: secret}
}

// outsideEntries lists the outside directory, which only secret.mp4 may be in.
func (ls linkedStore) assertOutsideUntouched(t *testing.T) {
	t.Helper()
	var names []string
	err := filepath.WalkDir(ls.outside, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != ls.outside {
			names = append(names, d.Name())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"secret.mp4"}) {
		t.Errorf("outside the root: %q, want only secret.mp4", names)
	}
	if b, err := os.ReadFile(ls.secret); err != nil || string(b) != "outside secret" {
		t.Errorf("the outside file now holds %q (%v)", b, err)
	}
}

// assertRefused checks err is the permanent outside-root error naming link.
func assertRefused(t *testing.T, op, key string, err error, link string) {
	t.Helper()
	if !errors.Is(err, errOutsideRoot) || !retry.IsPermanent(err) || errors.Is(err, storage.ErrNotExist) ||
		!strings.Contains(err.Error(), filepath.FromSlash(link)) {
		t.Errorf("%s(%q) = %v; want a permanent error saying the symlink %s leads outside the root", op, key, err, link)
	}
}

// No symlink under the root lets a Put write outside it.
func TestPutThroughSymlinkOutOfRootRefused(t *testing.T) {
	ls := newLinkedStore(t)
	tests := []struct{ key, link string }{
		{"absdir/new.mp4", "absdir"},
		{"reldir/new.mp4", "reldir"},
		{"reldir/sub/dir/new.mp4", "reldir"},
		{"deep/reldir/new.mp4", "deep/reldir"},
		{"chain/hop/new.mp4", "chain/hop"},
		{"absdir/secret.mp4", "absdir"},
	}
	for _, tt := range tests {
		err := ls.Put(t.Context(), tt.key, strings.NewReader("attack"), 6, storage.PutOptions{ContentType: "video/mp4"})
		assertRefused(t, "Put", tt.key, err, tt.link)
	}
	// A Put to a key that is itself a link replaces the link, inside the
	// root; the file it pointed to is not written.
	if err := ls.Put(t.Context(), "absfile.mp4", strings.NewReader("attack"), 6, storage.PutOptions{}); err != nil {
		t.Errorf("Put over a link: %v", err)
	}
	ls.assertOutsideUntouched(t)
}

// Stat, Open and Delete never read or remove an outside file through a
// link, and say why.
func TestReadThroughSymlinkOutOfRootRefused(t *testing.T) {
	ls := newLinkedStore(t)
	tests := []struct{ key, link string }{
		{"absdir/secret.mp4", "absdir"},
		{"reldir/secret.mp4", "reldir"},
		{"deep/reldir/secret.mp4", "deep/reldir"},
		{"chain/hop/secret.mp4", "chain/hop"},
		{"absfile.mp4", "absfile.mp4"},
		{"relfile.mp4", "relfile.mp4"},
		{"dangling.mp4", "dangling.mp4"},
	}
	for _, tt := range tests {
		_, err := ls.Stat(t.Context(), tt.key)
		assertRefused(t, "Stat", tt.key, err, tt.link)
		rc, err := ls.Open(t.Context(), tt.key)
		if err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("Open(%q) read %q from outside the root", tt.key, b)
		} else {
			assertRefused(t, "Open", tt.key, err, tt.link)
		}
		if err := ls.Delete(t.Context(), tt.key); strings.Contains(tt.key, "/") {
			assertRefused(t, "Delete", tt.key, err, tt.link)
		} else if err != nil {
			t.Errorf("Delete(%q), a link in the root: %v; want the link removed", tt.key, err)
		}
	}
	ls.assertOutsideUntouched(t)

	// An old sidecar swapped for a link is refused too, not read.
	writeOldObject(t, ls.root, "old/video.mp4", "frames", oldVideoSidecar)
	meta := filepath.Join(ls.root, "old", "video.mp4"+metaSuffix)
	os.Remove(meta)
	if err := os.Symlink(ls.secret, meta); err != nil {
		t.Fatal(err)
	}
	_, err := ls.Stat(t.Context(), "old/video.mp4")
	assertRefused(t, "Stat", "old/video.mp4", err, "old/video.mp4"+metaSuffix)
}

// Where attributes go to the hidden folder, a link in it (an attribute
// file, a folder, the hidden folder itself) is neither read, written nor
// removed through: the attributes of an object are never another file's.
func TestHiddenAttrsThroughSymlinkOutOfRootRefused(t *testing.T) {
	ls := newLinkedStore(t)
	ls.noXattr = true
	const key = "hidden/video.mp4"
	if err := ls.Put(t.Context(), key, strings.NewReader("frames"), 6, storage.PutOptions{ContentType: "video/mp4"}); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(ls.root, hiddenMetaPath(key))
	os.Remove(meta)
	if err := os.Symlink(ls.secret, meta); err != nil {
		t.Fatal(err)
	}
	link := filepath.ToSlash(hiddenMetaPath(key))
	_, err := ls.Stat(t.Context(), key)
	assertRefused(t, "Stat", key, err, link)
	err = ls.Put(t.Context(), key, strings.NewReader("frames"), 6, storage.PutOptions{ContentType: "video/mp4"})
	if err != nil {
		// Renaming over the link replaces it, in the root: also fine.
		assertRefused(t, "Put", key, err, link)
	}
	ls.assertOutsideUntouched(t)

	// The hidden folder itself a link out: every Put refuses, naming it.
	if err := os.RemoveAll(filepath.Join(ls.root, hiddenDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ls.outside, filepath.Join(ls.root, hiddenDir)); err != nil {
		t.Fatal(err)
	}
	err = ls.Put(t.Context(), "another/video.mp4", strings.NewReader("frames"), 6, storage.PutOptions{})
	assertRefused(t, "Put", "another/video.mp4", err, hiddenDir)
	if _, err := ls.Stat(t.Context(), "another/video.mp4"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after the refused Put = %v, want ErrNotExist: a refused Put stores nothing", err)
	}
	err = ls.Delete(t.Context(), key)
	assertRefused(t, "Delete", key, err, hiddenDir)
	ls.assertOutsideUntouched(t)
}

// List and cleanup do not descend into a link, nor start below one: they
// report and remove nothing outside the root.
func TestListAndCleanupStayInRoot(t *testing.T) {
	ls := newLinkedStore(t)
	old := time.Now().Add(-2 * StaleAfter)
	var stale []string
	for _, dir := range []string{ls.outside, filepath.Join(ls.outside, "sub")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, tmpPrefix+"not-ours")
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, p)
	}
	for _, prefix := range []string{"", "absdir/", "reldir/", "chain/hop/", "absdir/sub/", "reldir/sub/x"} {
		var keys []string
		if err := ls.List(t.Context(), prefix, func(o storage.ObjectInfo) error {
			keys = append(keys, o.Key)
			return nil
		}); err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		want := []string(nil)
		if prefix == "" {
			want = []string{"real/video.mp4"}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, keys, want)
		}
		n, _ := ls.AbortIncompleteUploads(t.Context(), prefix)
		if n != 0 {
			t.Errorf("AbortIncompleteUploads(%q) removed %d files, want 0", prefix, n)
		}
		for _, p := range stale {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("AbortIncompleteUploads(%q) removed a file outside the root: %v", prefix, err)
			}
		}
	}
}

// A link that stays inside the root is followed for the key it is named
// by, as os.Root does, but not listed twice.
func TestSymlinkInsideRootFollowed(t *testing.T) {
	s := newTestStore(t)
	if err := s.Put(t.Context(), "real/video.mp4", strings.NewReader("frames"), 6, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(s.root, "alias")); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Stat(t.Context(), "alias/video.mp4"); err != nil || info.Size != 6 {
		t.Errorf("Stat through an inside link = %+v, %v; want the object", info, err)
	}
	var keys []string
	if err := s.List(t.Context(), "", func(o storage.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"real/video.mp4"}) {
		t.Errorf("List = %q, want only the real key", keys)
	}
}
