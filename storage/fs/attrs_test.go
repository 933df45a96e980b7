package fs

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// attrModes are the two places Put keeps attributes: the extended
// attribute of the object's file (on the temp dir's real filesystem, when
// it keeps them), and the hidden folder, forced here as on a filesystem
// that keeps none.
var attrModes = []struct {
	name     string
	newStore func(t *testing.T) *Store
}{
	{"xattr", newXattrStore},
	{"hidden folder", newHiddenStore},
}

func newXattrStore(t *testing.T) *Store {
	t.Helper()
	s := newTestStore(t)
	requireXattrs(t, s.root)
	return s
}

func newHiddenStore(t *testing.T) *Store {
	t.Helper()
	s := newTestStore(t)
	s.noXattr = true
	return s
}

// videoOpts are the attributes the archiver gives a video.
var videoOpts = storage.PutOptions{
	ContentType:        "video/mp4",
	ContentDisposition: `inline; filename="2026-04-27_asyntask_AbC_720p_result.mp4"`,
	Metadata:           map[string]string{"task-id": "asyntask_AbC", "kind": "result", "model": "doubao-seedance-2-0-260128"},
	Tags:               map[string]string{"archived-by": "reelvault", "kind": "result"},
}

var taskOpts = storage.PutOptions{ContentType: "application/json", Metadata: map[string]string{"task-id": "asyntask_AbC", "kind": "task"}}

// archiveKeys are the objects of two archived tasks, one with the
// pre-enhancement video too.
var archiveKeys = []string{
	"2026/04/27/asyntask_AbC/original.mp4",
	"2026/04/27/asyntask_AbC/result.mp4",
	"2026/04/27/asyntask_AbC/task.json",
	"2026/04/28/asyntask_x1/result.mp4",
	"2026/04/28/asyntask_x1/task.json",
}

func optsFor(key string) storage.PutOptions {
	if strings.HasSuffix(key, ".json") {
		return taskOpts
	}
	return videoOpts
}

// filesInFolder walks root as a person browsing it does and returns the
// files (slash paths under root), leaving out the entries at the top of
// the root whose names start with a dot, which file browsers hide.
func filesInFolder(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if rel == "" && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if e.IsDir() {
				walk(filepath.Join(dir, e.Name()), rel+e.Name()+"/")
				continue
			}
			files = append(files, rel+e.Name())
		}
	}
	walk(root, "")
	slices.Sort(files)
	return files
}

func assertAttrs(t *testing.T, s *Store, key string, want storage.PutOptions) {
	t.Helper()
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if info.ContentType != want.ContentType || info.ContentDisposition != want.ContentDisposition ||
		!maps.Equal(info.Metadata, want.Metadata) {
		t.Errorf("Stat(%q) = type %q, disposition %q, metadata %v; want %q, %q, %v", key,
			info.ContentType, info.ContentDisposition, info.Metadata, want.ContentType, want.ContentDisposition, want.Metadata)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// An archive folder holds the videos and task.json files, and nothing else
// a person browsing it sees; every object still has its attributes.
func TestArchiveFolderHoldsOnlyObjects(t *testing.T) {
	for _, mode := range attrModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t)
			for _, key := range archiveKeys {
				putWith(t, s, key, optsFor(key))
			}
			if got := filesInFolder(t, s.root); !slices.Equal(got, archiveKeys) {
				t.Errorf("files in the archive folder:\n  %s\nwant only the objects:\n  %s",
					strings.Join(got, "\n  "), strings.Join(archiveKeys, "\n  "))
			}
			if got := listKeys(t, s, ""); !slices.Equal(got, archiveKeys) {
				t.Errorf("List = %q, want %q", got, archiveKeys)
			}
			for _, key := range archiveKeys {
				assertAttrs(t, s, key, optsFor(key))
			}
			// Where xattrs work, the root holds nothing hidden either.
			if hidden := exists(t, filepath.Join(s.root, hiddenDir)); hidden == (mode.name == "xattr") {
				t.Errorf("%s exists: %v, want %v", hiddenDir, hidden, mode.name != "xattr")
			}
			// Whatever the hidden folder holds, List shows none of it.
			stray := filepath.Join(s.root, hiddenDir, "notes.txt")
			if err := os.MkdirAll(filepath.Dir(stray), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := listKeys(t, s, ""); !slices.Equal(got, archiveKeys) {
				t.Errorf("List with %s in the root = %q, want %q", stray, got, archiveKeys)
			}
		})
	}
}

// Stat returns what Put stored, from the place it was stored in: the
// extended attribute of the file, or the hidden folder, never both.
func TestAttributesStoredOutOfSight(t *testing.T) {
	for _, mode := range attrModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t)
			const key = "2026/04/27/asyntask_AbC/result.mp4"
			putWith(t, s, key, videoOpts)
			assertAttrs(t, s, key, videoOpts)
			raw, inXattr := storedXattr(t, filepath.Join(s.root, s.name(key)))
			inHidden := exists(t, filepath.Join(s.root, hiddenMetaPath(s.name(key))))
			if inXattr != (mode.name == "xattr") || inHidden == inXattr {
				t.Fatalf("attributes in the extended attribute: %v, in the hidden folder: %v; want them in the %s only",
					inXattr, inHidden, mode.name)
			}
			if inXattr {
				var a attrs
				if err := json.Unmarshal(raw, &a); err != nil || a.ContentType != videoOpts.ContentType ||
					!maps.Equal(a.Tags, videoOpts.Tags) {
					t.Errorf("extended attribute %s = %s (%v); want the JSON of the attributes, tags included", xattrName, raw, err)
				}
			}
		})
	}
}

// Attributes too big for the filesystem's extended attributes (ext4 takes
// about 4 KiB, Linux 64 KiB) go to the hidden folder for that object only;
// a later Put that fits moves them back and leaves no hidden file behind.
func TestAttributesTooBigForXattr(t *testing.T) {
	s := newXattrStore(t)
	for _, size := range []int{8 << 10, 100 << 10} {
		key := "big/" + strings.Repeat("k", 1+size>>10) + ".mp4"
		big := storage.PutOptions{ContentType: "video/mp4", Metadata: map[string]string{"prompt": strings.Repeat("p", size)}}
		putWith(t, s, key, big)
		assertAttrs(t, s, key, big)
		path, hidden := filepath.Join(s.root, s.name(key)), filepath.Join(s.root, hiddenMetaPath(s.name(key)))
		_, inXattr := storedXattr(t, path)
		if inHidden := exists(t, hidden); inHidden == inXattr || size > maxXattr && !inHidden {
			t.Errorf("%d bytes of metadata: in the extended attribute %v, in the hidden folder %v; want exactly one "+
				"(the hidden folder past %d bytes)", size, inXattr, inHidden, maxXattr)
		}
		putWith(t, s, key, videoOpts)
		assertAttrs(t, s, key, videoOpts)
		if _, inXattr := storedXattr(t, path); !inXattr || exists(t, hidden) {
			t.Errorf("after a Put with small attributes: in the extended attribute %v, hidden file left %v; "+
				"want the extended attribute only", inXattr, exists(t, hidden))
		}
	}
	if got := filesInFolder(t, s.root); len(got) != 2 {
		t.Errorf("files in the archive folder: %q, want the two objects", got)
	}
}

// writeOldObject places an object as the previous version of the driver
// did: the data file and, beside it, "<name>.reelvault-meta.json" holding
// the attributes' JSON.
func writeOldObject(t *testing.T, root, name, body, sidecar string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".reelvault-meta.json", []byte(sidecar), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The sidecars of the previous version, copied here as it wrote them.
const (
	oldVideoSidecar = `{"content_type":"video/mp4","content_disposition":"inline; filename=\"2026-04-27_asyntask_AbC_720p_result.mp4\"",` +
		`"metadata":{"kind":"result","model":"doubao-seedance-2-0-260128","task-id":"asyntask_AbC"},"tags":{"archived-by":"reelvault","kind":"result"}}`
	oldTaskSidecar = `{"content_type":"application/json","metadata":{"kind":"task","task-id":"asyntask_AbC"}}`
)

// An archive written by the previous version, with a sidecar beside every
// object, reads as before: Stat returns the attributes, List shows the
// objects only. A Put over an old object leaves no sidecar; a Delete
// removes it. In the escaped layout the sidecars sit beside the escaped
// names.
func TestOldSidecarsStillRead(t *testing.T) {
	for _, layout := range []struct {
		name    string
		escaped bool
		dir     string // the task's folder on disk
	}{
		{"plain layout", false, "2026/04/27/asyntask_AbC"},
		{"escaped layout", true, "2026/04/27/asyntask_^ab^c"},
	} {
		for _, mode := range attrModes {
			t.Run(layout.name+"/"+mode.name, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "archive")
				if layout.escaped {
					writeLayoutFile(t, root)
				}
				writeOldObject(t, root, layout.dir+"/result.mp4", "video", oldVideoSidecar)
				writeOldObject(t, root, layout.dir+"/original.mp4", "original", oldVideoSidecar)
				writeOldObject(t, root, layout.dir+"/task.json", "{}", oldTaskSidecar)
				s := openStore(t, root)
				s.noXattr = mode.name != "xattr"
				if !s.noXattr {
					requireXattrs(t, root)
				}
				keys := archiveKeys[:3]
				if got := listKeys(t, s, ""); !slices.Equal(got, keys) {
					t.Errorf("List = %q, want the objects %q and no sidecar", got, keys)
				}
				for _, key := range keys {
					assertAttrs(t, s, key, optsFor(key))
				}

				// A new Put of the task's record, as a re-archive makes.
				newTask := storage.PutOptions{ContentType: "application/json", Metadata: map[string]string{"task-id": "asyntask_AbC", "kind": "task", "v": "2"}}
				putWith(t, s, keys[2], newTask)
				assertAttrs(t, s, keys[2], newTask)
				if err := s.Delete(t.Context(), keys[0]); err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(root, filepath.FromSlash(layout.dir))
				if got, want := filesInFolder(t, dir), []string{"result.mp4", "result.mp4" + metaSuffix, "task.json"}; !slices.Equal(got, want) {
					t.Errorf("task folder after a Put and a Delete = %q, want %q (no sidecar of either)", got, want)
				}
				assertAttrs(t, s, keys[1], videoOpts)
			})
		}
	}
}

// A Put that fails stores nothing, attributes included: the old object
// keeps its own, and no attribute file is left.
func TestFailedPutKeepsOldAttributes(t *testing.T) {
	for _, mode := range attrModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t)
			const key = "t/asyntask_a/result.mp4"
			putWith(t, s, key, videoOpts)
			before := filesUnder(t, s.root)
			other := storage.PutOptions{ContentType: "video/webm", Metadata: map[string]string{"v": "2"}}
			if err := s.Put(t.Context(), key, strings.NewReader("short"), 10, other); err == nil {
				t.Fatal("Put of a short body succeeded")
			}
			assertAttrs(t, s, key, videoOpts)
			if after := filesUnder(t, s.root); !slices.Equal(after, before) {
				t.Errorf("files under the root after a failed Put = %q, want %q as before", after, before)
			}
		})
	}
}

// filesUnder lists every file under root, hidden ones included.
func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A Delete leaves no attributes of the object anywhere, and those of its
// neighbour where they were.
func TestDeleteLeavesNoAttributes(t *testing.T) {
	for _, mode := range attrModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t)
			const gone, kept = "t/asyntask_a/result.mp4", "t/asyntask_a/task.json"
			putWith(t, s, gone, videoOpts)
			putWith(t, s, kept, taskOpts)
			if err := s.Delete(t.Context(), gone); err != nil {
				t.Fatal(err)
			}
			left := filesUnder(t, s.root)
			want := []string{kept}
			if mode.name != "xattr" {
				want = []string{filepath.ToSlash(hiddenMetaPath(s.name(kept))), kept}
			}
			if !slices.Equal(left, want) {
				t.Errorf("files under the root after Delete(%q) = %q, want %q", gone, left, want)
			}
			assertAttrs(t, s, kept, taskOpts)
		})
	}
}

// The hidden folder mirrors the escaped names, so two keys differing only
// in case keep their own attributes on a filesystem that folds case.
func TestHiddenAttrsInEscapedLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	writeLayoutFile(t, root)
	s := openStore(t, root)
	s.noXattr = true
	keys := map[string]storage.PutOptions{
		"t/asyntask_AbC/result.mp4": {ContentType: "video/mp4", Metadata: map[string]string{"task-id": "asyntask_AbC"}},
		"t/asyntask_abc/result.mp4": {ContentType: "video/webm", Metadata: map[string]string{"task-id": "asyntask_abc"}},
	}
	for key, opts := range keys {
		putWith(t, s, key, opts)
	}
	for key, opts := range keys {
		assertAttrs(t, s, key, opts)
	}
	want := filepath.Join(root, hiddenDir, "meta", "t", "asyntask_^ab^c", "result.mp4"+metaSuffix)
	if !exists(t, want) {
		t.Errorf("%s missing: the hidden folder does not use the escaped name", want)
	}
}

// The conformance suite passes with every attribute in the hidden folder.
func TestConformanceHiddenAttrs(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newHiddenStore(t) })
}

func putWith(t *testing.T, s *Store, key string, opts storage.PutOptions) {
	t.Helper()
	body := "bytes of " + key
	if err := s.Put(t.Context(), key, strings.NewReader(body), int64(len(body)), opts); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}
