package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// Case-insensitive filesystems (APFS and HFS+ by default on macOS, NTFS and
// exFAT, FAT, some network mounts) take "asyntask_AbC" and "asyntask_abc"
// for one name, so two tasks whose ids differ only in case would share a
// folder and one video would overwrite the other.
//
// The driver disambiguates rather than refusing such a root: task ids come
// from the gateway and nobody can change them, and refusing would stop the
// archive on the default filesystem of every Mac. On a root whose
// filesystem folds case, keys are stored in the escaped layout (keys.go:
// escapeSegment), in which different keys always have names the filesystem
// keeps apart. The layout is chosen once, when the root holds no object
// yet, and recorded in layoutName at its top, so it travels with the
// archive: a copy on a case-sensitive disk is read the same way.
//
// A root that already holds objects in the plain layout on a filesystem
// that folds case (written before this existed) keeps the plain layout, so
// every object stays readable where it was put; CaseProblem then says so,
// for the caller to warn about.
const layoutEscaped = "escape-upper-case v1"

// layoutText is the content of layoutName in an escaped root: the layout's
// name on the first line, then what it means for whoever finds the file.
const layoutText = layoutEscaped + `
This directory is a reelvault archive on a filesystem that does not tell
upper-case from lower-case letters. In every file and folder name under it,
"^" followed by a lower-case letter stands for that letter in upper case,
"^^" for "^", and "^#" and two hex digits for one byte of a non-ASCII
character: the folder of task asyntask_AbC is asyntask_^ab^c.
Do not delete this file: reelvault would no longer find the objects.
`

// chooseLayout reads the root's recorded layout or, when there is none,
// probes the filesystem and records the escaped layout if it folds case and
// the root holds no object yet.
func (tr *tree) chooseLayout() error {
	raw, err := tr.dir.ReadFile(layoutName)
	switch {
	case err == nil:
		first, _, _ := bytes.Cut(raw, []byte("\n"))
		if string(bytes.TrimSpace(first)) != layoutEscaped {
			return retry.Permanent(fmt.Errorf("fs: root %s: unknown layout %q in %s (written by a newer reelvault?)",
				tr.root, first, layoutName))
		}
		tr.escapeCase = true
		return nil
	case !isNotExist(err):
		return classify(fmt.Errorf("fs: root %s: read %s: %w", tr.root, layoutName, err))
	}
	folds, err := tr.foldsCase()
	if err != nil {
		if isReadOnly(err) {
			// Nothing can be written here, so nothing new can collide:
			// read the plain layout, as every root without the file has.
			return nil
		}
		return classify(fmt.Errorf("fs: root %s: probe whether the filesystem tells case apart: %w", tr.root, err))
	}
	if !folds {
		return nil
	}
	empty, err := tr.holdsNoObject()
	if err != nil {
		return err
	}
	if !empty {
		tr.plainFolding = true
		return nil
	}
	if err := tr.writeLayout(); err != nil {
		return classify(fmt.Errorf("fs: root %s: record the escaped layout: %w", tr.root, err))
	}
	tr.escapeCase = true
	return nil
}

// foldsCase reports whether the root's filesystem takes names differing
// only in case for one: it creates a uniquely named lower-case probe file,
// looks for its upper-case spelling, and removes it. The probe is named
// like a temp file, so a crash in between leaves nothing List shows and
// cleanup removes it.
func (tr *tree) foldsCase() (bool, error) {
	var b [8]byte
	rand.Read(b[:])
	probe := tmpPrefix + "case-probe-" + hex.EncodeToString(b[:])
	f, err := tr.dir.OpenFile(probe, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return false, err
	}
	f.Close()
	defer tr.dir.Remove(probe)
	// Its name is random, so an upper-case twin is the probe itself. (Not
	// os.SameFile: FUSE drivers such as exfat-fuse give each spelling of a
	// name its own inode number.)
	_, err = tr.dir.Lstat(strings.ToUpper(probe))
	switch {
	case isNotExist(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// errFound stops holdsNoObject's listing at the first object.
var errFound = errors.New("found an object")

// holdsNoObject reports whether List would find nothing in the root; it
// stops at the first object, so a big archive costs one path down its tree.
func (tr *tree) holdsNoObject() (bool, error) {
	err := tr.listDir(context.Background(), "", ".", "", func(storage.ObjectInfo) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// writeLayout records the escaped layout, atomically: a crash leaves either
// no layout file (and an empty root, probed again) or the whole file.
func (tr *tree) writeLayout() error {
	tmp, err := tr.writeTemp(".", layoutName, strings.NewReader(layoutText), int64(len(layoutText)), nil)
	if err != nil {
		return err
	}
	if err := tr.dir.Rename(tmp, layoutName); err != nil {
		tr.dir.Remove(tmp)
		return err
	}
	return tr.syncDir(".")
}

// CaseProblem reports, for the caller to warn about, a root that cannot
// keep case apart: it is on a filesystem that folds case, and it already
// held objects in the plain layout when it was opened, so it keeps that
// layout and two keys differing only in case share a name there. It is
// nil for every other root. The cure is a new, empty root (on any
// filesystem), or moving the archive to a case-sensitive one.
func (s *Store) CaseProblem() error {
	if !s.plainFolding {
		return nil
	}
	return fmt.Errorf("fs: root %s is on a filesystem that does not tell upper-case from lower-case letters "+
		"and holds objects stored before reelvault escaped case there: tasks whose ids differ only in case "+
		"share a folder, and one's videos replace the other's; store new videos in a new, empty root, "+
		"or move the archive to a case-sensitive filesystem", s.root)
}

// isReadOnly reports errors that mean the root cannot be written.
func isReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}
