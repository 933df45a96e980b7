package fs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

func TestEscapeSegment(t *testing.T) {
	tests := []struct{ seg, want string }{
		{"asyntask_abc", "asyntask_abc"},
		{"result.mp4", "result.mp4"},
		{"asyntask_AbC", "asyntask_^ab^c"},
		{"ABC", "^a^b^c"},
		{"a^b", "a^^b"},
		{"^A", "^^^a"},
		{"é", "^#c3^#a9"},
		{"É", "^#c3^#89"},
		{tmpPrefix + "0123-abc", tmpPrefix + "0123-abc"},
		{"v" + metaSuffix, "v" + metaSuffix},
	}
	for _, tt := range tests {
		got := escapeSegment(tt.seg)
		if got != tt.want {
			t.Errorf("escapeSegment(%q) = %q, want %q", tt.seg, got, tt.want)
		}
		if back, ok := unescapeSegment(got); !ok || back != tt.seg {
			t.Errorf("unescapeSegment(%q) = %q, %v; want %q", got, back, ok, tt.seg)
		}
	}
	// Segments a case-folding filesystem takes for one name (ASCII case,
	// Unicode case, two Unicode spellings of é) stay apart once escaped.
	same := []string{"asyntask_AbC", "asyntask_abc", "asyntask_ABC", "asyntask_aBc", "É", "é", "e\u0301", "E\u0301"}
	seen := map[string]string{}
	for _, seg := range same {
		folded := strings.ToLower(escapeSegment(seg))
		if other, dup := seen[folded]; dup {
			t.Errorf("%q and %q both escape to %q once case is folded", seg, other, folded)
		}
		seen[folded] = seg
	}
	for _, name := range []string{"Abc", "a^", "a^B", "a^#", "a^#c", "a^#C3", "a^#41", "a^x^", "é"} {
		if got, ok := unescapeSegment(name); ok {
			t.Errorf("unescapeSegment(%q) = %q; want it refused, escapeSegment never writes it", name, got)
		}
	}
}

// FuzzEscapeSegment: escaping is reversible, writes only lower-case ASCII
// (which no filesystem folds), and unescape accepts nothing else.
func FuzzEscapeSegment(f *testing.F) {
	for _, s := range []string{"asyntask_AbC", "a^b", "視頻 🎬", "\xff", "^#c3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		esc := escapeSegment(seg)
		if back, ok := unescapeSegment(esc); !ok || back != seg {
			t.Fatalf("unescapeSegment(escapeSegment(%q) = %q) = %q, %v", seg, esc, back, ok)
		}
		if strings.ToLower(esc) != esc || !utf8.ValidString(esc) || strings.ContainsFunc(esc, func(r rune) bool { return r >= 0x80 }) {
			t.Fatalf("escapeSegment(%q) = %q, not plain lower-case ASCII", seg, esc)
		}
		if back, ok := unescapeSegment(seg); ok && escapeSegment(back) != seg {
			t.Fatalf("unescapeSegment accepted %q as %q, which escapes to %q", seg, back, escapeSegment(back))
		}
	})
}

// writeLayoutFile makes dir a root in the escaped layout, as a copy of an
// archive made on a case-insensitive filesystem is.
func writeLayoutFile(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, layoutName), []byte(layoutText), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The escaped layout keeps the storage contract, wherever the archive is.
func TestConformanceEscapedLayout(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		root := filepath.Join(t.TempDir(), "archive")
		writeLayoutFile(t, root)
		s, err := New(root)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if !s.escapeCase {
			t.Fatal("a root with the layout file is not in the escaped layout")
		}
		return s
	})
}

// A root with the layout file stores upper-case letters escaped, lists
// and finds keys by their real names, and Path says where the file is.
func TestEscapedLayoutOnDisk(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	writeLayoutFile(t, root)
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	const key = "2026/01/02/asyntask_AbC/result.mp4"
	putString(t, s, key, "AbC's video")
	want := filepath.Join(root, "2026", "01", "02", "asyntask_^ab^c", "result.mp4")
	if b, err := os.ReadFile(want); err != nil || string(b) != "AbC's video" {
		t.Errorf("file %s: %q, %v; want the object there", want, b, err)
	}
	if got, err := s.Path(key); err != nil || got != want {
		t.Errorf("Path(%q) = %q, %v; want %q", key, got, err, want)
	}
	// A file placed by hand under a name escaping cannot produce is no key.
	if err := os.WriteFile(filepath.Join(root, "2026", "Stray.mp4"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, s, ""); !slices.Equal(got, []string{key}) {
		t.Errorf("List = %q, want [%q]", got, key)
	}
}

// A case-sensitive root keeps today's plain layout: no layout file, names
// as the keys spell them.
func TestCaseSensitiveRootKeepsPlainLayout(t *testing.T) {
	s := newTestStore(t)
	tr, err := s.open("probe", "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	if folds, err := tr.foldsCase(); err != nil || folds {
		t.Skipf("the temp dir folds case (%v): this test is for case-sensitive filesystems", err)
	}
	putString(t, s, "t/asyntask_AbC/result.mp4", "v")
	if _, err := os.Stat(filepath.Join(s.root, "t", "asyntask_AbC", "result.mp4")); err != nil {
		t.Errorf("plain layout: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, layoutName)); !os.IsNotExist(err) {
		t.Errorf("a layout file in a case-sensitive root (%v)", err)
	}
	if s.escapeCase || s.CaseProblem() != nil {
		t.Errorf("case-sensitive root: escaped %v, problem %v", s.escapeCase, s.CaseProblem())
	}
}

// On a real case-insensitive filesystem, tasks whose ids differ only in
// case keep their own videos.
func TestCaseInsensitiveFilesystem(t *testing.T) {
	dir := caseInsensitiveDir(t)

	t.Run("new root escapes case", func(t *testing.T) {
		root := filepath.Join(dir, "fresh")
		s := openStore(t, root)
		if !s.escapeCase || s.CaseProblem() != nil {
			t.Fatalf("fresh case-insensitive root: escaped %v, problem %v; want escaped", s.escapeCase, s.CaseProblem())
		}
		keys := []string{"2026/01/02/asyntask_AbC/result.mp4", "2026/01/02/asyntask_abc/result.mp4", "2026/01/02/asyntask_ABC/result.mp4"}
		for _, k := range keys {
			putString(t, s, k, "video of "+k)
		}
		for _, k := range keys {
			if got := readString(t, s, k); got != "video of "+k {
				t.Errorf("Open(%q) = %q: another task's video", k, got)
			}
		}
		// Attributes too keep apart, wherever this filesystem keeps them.
		// (exFAT keeps no extended attributes: the hidden folder, here.)
		attrsOf := func(k string) storage.PutOptions {
			return storage.PutOptions{ContentType: "video/mp4", Metadata: map[string]string{"key": k}}
		}
		for _, k := range keys {
			body := "video of " + k
			if err := s.Put(t.Context(), k, strings.NewReader(body), int64(len(body)), attrsOf(k)); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys {
			assertAttrs(t, s, k, attrsOf(k))
			_, inXattr := storedXattr(t, filepath.Join(root, s.name(k)))
			if inHidden := exists(t, filepath.Join(root, hiddenMetaPath(s.name(k)))); inXattr == inHidden {
				t.Errorf("%s: attributes in the extended attribute %v, in the hidden folder %v; want exactly one", k, inXattr, inHidden)
			}
		}
		if got := listKeys(t, s, "2026/"); !slices.Equal(got, slices.Sorted(slices.Values(keys))) {
			t.Errorf("List = %q, want %q", got, keys)
		}
		// Reopened, the root keeps its layout; a Delete removes one only.
		s2 := openStore(t, root)
		if !s2.escapeCase {
			t.Fatal("reopened, the root is no longer in the escaped layout")
		}
		if err := s2.Delete(t.Context(), keys[1]); err != nil {
			t.Fatal(err)
		}
		if got := readString(t, s2, keys[0]); got != "video of "+keys[0] {
			t.Errorf("after deleting %s, Open(%s) = %q", keys[1], keys[0], got)
		}
		if _, err := s2.Stat(t.Context(), keys[1]); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat of the deleted key = %v, want ErrNotExist", err)
		}
	})

	t.Run("conformance", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			return openStore(t, filepath.Join(dir, "conformance", t.Name()))
		})
	})

	t.Run("old plain root is reported", func(t *testing.T) {
		root := filepath.Join(dir, "legacy")
		if err := os.MkdirAll(filepath.Join(root, "t", "asyntask_AbC"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "t", "asyntask_AbC", "result.mp4"), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, root)
		if s.escapeCase || s.CaseProblem() == nil || !strings.Contains(s.CaseProblem().Error(), "upper-case") {
			t.Errorf("legacy root: escaped %v, problem %v; want the plain layout and a problem", s.escapeCase, s.CaseProblem())
		}
		if got := readString(t, s, "t/asyntask_AbC/result.mp4"); got != "old" {
			t.Errorf("legacy object = %q, want it readable where it was put", got)
		}
	})
}

// caseInsensitiveDir is a directory on a filesystem that folds case: the
// temp dir if it does (macOS, Windows), else an exFAT image mounted through
// FUSE on a loop device (Linux, as root, with exfatprogs and exfat-fuse).
func caseInsensitiveDir(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	if openStore(t, filepath.Join(tmp, "probe")).escapeCase {
		return tmp
	}
	tools := []string{"mkfs.exfat", "losetup", "mount.exfat-fuse", "umount"}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			skip := t.Skipf
			if os.Getenv("CI") == "true" {
				skip = t.Fatalf // scripts/ensure-exfat.sh installs them: missing is a broken CI machine
			}
			skip("no case-insensitive filesystem to test on: the temp dir tells case apart and %s is missing "+
				"(as root: apt-get install exfatprogs exfat-fuse, or scripts/ensure-exfat.sh)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("no case-insensitive filesystem to test on: mounting an exFAT image needs root")
	}
	img := filepath.Join(tmp, "exfat.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) (string, error) {
		out, err := exec.CommandContext(t.Context(), name, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run("mkfs.exfat", img); err != nil {
		t.Skipf("no case-insensitive filesystem to test on: mkfs.exfat: %v: %s", err, out)
	}
	loop, err := run("losetup", "--find", "--show", img)
	if err != nil {
		t.Skipf("no case-insensitive filesystem to test on: losetup: %v: %s", err, loop)
	}
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	mnt := filepath.Join(tmp, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := run("mount.exfat-fuse", loop, mnt); err != nil {
		t.Skipf("no case-insensitive filesystem to test on: mount.exfat-fuse: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func openStore(t *testing.T, root string) *Store {
	t.Helper()
	s, err := New(root)
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	return s
}

func putString(t *testing.T, s *Store, key, body string) {
	t.Helper()
	if err := s.Put(t.Context(), key, strings.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func readString(t *testing.T, s *Store, key string) string {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, rc); err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b.String()
}

func listKeys(t *testing.T, s *Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), prefix, func(o storage.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}
