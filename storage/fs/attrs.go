package fs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/reelvault/reelvault/retry"
)

// An object's attributes (what PutOptions carries that a plain file cannot
// hold) are kept out of sight: whoever browses an archive folder expects
// the videos and task.json files and nothing else. They live in the first
// of these places that works:
//
//  1. The extended attribute xattrName of the object's own file, on Linux
//     filesystems that keep extended attributes (ext4, XFS, btrfs, ZFS,
//     tmpfs since Linux 6.6). Put sets it on the temp file before the
//     rename, so the object and its attributes appear together, and it goes
//     with the file when the file goes.
//  2. Where the filesystem keeps none (exFAT, FAT, many network and FUSE
//     mounts, an older tmpfs) or refuses a value that big (ext4 holds about
//     4 KiB per file), one hidden folder at the top of the root:
//     <root>/.reelvault/meta/<name>.reelvault-meta.json, where <name> is the
//     object's path under the root (escaped in the escaped layout, so it is
//     unique on any filesystem). It mirrors the object tree, and the reserved
//     suffix keeps every file apart from every folder of it.
//
// Each Put chooses for itself, by trying the extended attribute first:
// nothing is probed or remembered, so a root spanning several filesystems,
// or one copied to another, works as it is.
//
// Archives written before kept the attributes in a sidecar beside each file,
// <name>.reelvault-meta.json. Stat reads those still, last: it takes the
// first of extended attribute, hidden file and sidecar that exists, so a
// Put that stored one need not remove the others first (it removes them
// after its rename), and a crash in between leaves only copies that are
// never read.
//
// Extended attributes travel with cp -a, rsync -X and tar --xattrs, and a
// plain copy of the archive drops them; the videos and task.json files are
// whole without them (task.json records everything the attributes say).

const (
	// xattrName is the extended attribute holding an object's attributes,
	// as JSON (the same JSON the hidden files and old sidecars hold).
	xattrName = "user.reelvault"
	// maxXattr is the largest value Linux takes (XATTR_SIZE_MAX); a bigger
	// one goes to the hidden folder without trying.
	maxXattr = 64 << 10
	// hiddenDir is the driver's folder at the top of a root. No key's first
	// segment may be named so, in any case.
	hiddenDir = ".reelvault"
)

// metaDir is the hidden folder of attribute files, relative to the root.
var metaDir = filepath.Join(hiddenDir, "meta")

// attrs is what an object's attributes hold.
type attrs struct {
	ContentType        string            `json:"content_type,omitempty"`
	ContentDisposition string            `json:"content_disposition,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
}

// hiddenMetaPath is the attribute file in the hidden folder of the object
// at name (both relative to the root).
func hiddenMetaPath(name string) string {
	return filepath.Join(metaDir, name) + metaSuffix
}

// setXattr stores raw as the attributes of the open file f, and reports
// whether it could. Every failure means "use the hidden folder": ENOTSUP
// (no extended attributes here), E2BIG, ENOSPC or ERANGE (too big for this
// filesystem), EPERM or EACCES (a mount or a security module that refuses
// them). The attributes are stored either way, and a disk that is really
// failing fails the hidden file's write or the data's fsync instead.
func (tr *tree) setXattr(f *os.File, raw []byte) bool {
	if tr.noXattr || len(raw) > maxXattr {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = fsetxattr(int(fd), raw) }); err != nil {
		return false
	}
	return serr == nil
}

// getXattr returns the attributes stored on the open file f, or found false
// when it holds none or its filesystem keeps none.
func getXattr(f *os.File) (raw []byte, found bool, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	// One page holds every value ext4 takes; a bigger one (XFS, btrfs)
	// says ERANGE and is read again whole.
	for _, size := range []int{4 << 10, maxXattr} {
		buf := make([]byte, size)
		var n int
		var gerr error
		if err := rc.Control(func(fd uintptr) { n, gerr = fgetxattr(int(fd), buf) }); err != nil {
			return nil, false, err
		}
		switch {
		case gerr == nil:
			return buf[:n], true, nil
		case xattrAbsent(gerr):
			return nil, false, nil
		case !errors.Is(gerr, syscall.ERANGE):
			return nil, false, os.NewSyscallError("fgetxattr "+xattrName, gerr)
		}
	}
	return nil, false, fmt.Errorf("extended attribute %s is over %d bytes: %w", xattrName, maxXattr, syscall.ERANGE)
}

// readAttrs returns the attributes of the object at name, open as f, from
// the first place that has them. None anywhere is the zero attrs: a file
// placed by hand, not by Put.
func (tr *tree) readAttrs(f *os.File, name string) (attrs, error) {
	raw, found, err := getXattr(f)
	if err != nil {
		return attrs{}, fmt.Errorf("read attributes of %s: %w", filepath.Join(tr.root, name), err)
	}
	where := "extended attribute " + xattrName + " of " + filepath.Join(tr.root, name)
	for _, p := range []string{hiddenMetaPath(name), metaPath(name)} {
		if found {
			break
		}
		raw, err = tr.dir.ReadFile(p)
		switch {
		case isNotExist(err):
			continue
		case err != nil:
			return attrs{}, fmt.Errorf("read attributes: %w", err)
		}
		found, where = true, filepath.Join(tr.root, p)
	}
	var a attrs
	if !found {
		return a, nil
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return attrs{}, retry.Permanent(fmt.Errorf("corrupt attributes in %s: %w", where, err))
	}
	return a, nil
}

// writeHidden writes raw as the attributes of the object at name into a
// temp file in the hidden folder, for Put to rename into place, and
// returns the temp file's name.
func (tr *tree) writeHidden(name string, raw []byte) (string, error) {
	p := hiddenMetaPath(name)
	dir := filepath.Dir(p)
	if err := tr.mkdirAll(dir); err != nil {
		return "", err
	}
	tr.removeLeftovers(dir, p)
	return tr.writeTemp(dir, p, bytes.NewReader(raw), int64(len(raw)), nil)
}

// dropSuperseded removes, once Put has renamed the object into place, the
// copies of its attributes that Stat no longer reads: the hidden file when
// they went to the extended attribute, and an old sidecar always. Errors
// are ignored: the object is stored, and such a copy is never read.
func (tr *tree) dropSuperseded(name string, inXattr bool) {
	if inXattr {
		tr.dir.Remove(hiddenMetaPath(name))
	}
	tr.dir.Remove(metaPath(name))
}

// mkdirAll creates dir (relative to the root) and its parents.
func (tr *tree) mkdirAll(dir string) error {
	if err := tr.dir.MkdirAll(dir, dirMode); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			// os.Root says EEXIST where os.MkdirAll says ENOTDIR: a file
			// stands where a directory must be, which no retry fixes.
			err = fmt.Errorf("%w: %w", syscall.ENOTDIR, err)
		}
		return fmt.Errorf("create directory: %w", err)
	}
	return nil
}

// moveSidecar moves the attributes in the old sidecar at p (relative to
// the root) to where this version keeps them, the extended attribute of
// the object's file or else the hidden folder, and removes the sidecar:
// AbortIncompleteUploads calls it for every sidecar beside an object, so
// an archive written by an older version holds only its objects after its
// first cleanup (every run begins with one). The attributes are stored,
// and synced, before the sidecar goes, and Stat prefers the new place, so a
// reader at any moment, or a crash, sees them. A sidecar that cannot be
// moved (a corrupt one, a read-only disk) stays, and is read as before.
func (tr *tree) moveSidecar(p string) {
	name := strings.TrimSuffix(p, metaSuffix)
	raw, err := tr.dir.ReadFile(p)
	if err != nil || !json.Valid(raw) {
		return
	}
	f, err := tr.dir.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return
	}
	_, inXattr, err := getXattr(f)
	if err != nil {
		return
	}
	_, err = tr.dir.Lstat(hiddenMetaPath(name))
	superseded := inXattr || err == nil
	switch {
	case superseded:
		// A newer copy is read first: this one is dead.
	case tr.setXattr(f, raw):
		if f.Sync() != nil {
			return
		}
	default:
		tmp, err := tr.writeHidden(name, raw)
		if err != nil {
			return
		}
		if err := tr.dir.Rename(tmp, hiddenMetaPath(name)); err != nil {
			tr.dir.Remove(tmp)
			return
		}
		if tr.syncDir(filepath.Dir(hiddenMetaPath(name))) != nil {
			return
		}
	}
	tr.dir.Remove(p)
}
