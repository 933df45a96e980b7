package fs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"strings"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// errOutsideRoot is wrapped (as a permanent error) when a key's path runs
// through a symbolic link that os.Root refuses to follow: one that leads
// out of the root, or an absolute one. A retry cannot fix it; the link
// has to go.
var errOutsideRoot = errors.New("leads outside the root (links under the root must be relative and stay inside it)")

// missing is fail for Stat and Open, where a path that does not exist (or
// runs into a file where a directory should be) means no object.
func (tr *tree) missing(op, key string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("fs: %s %q: %w: %w", op, key, storage.ErrNotExist, err)
	}
	return tr.fail(op, key, err)
}

// fail names key in err and classifies it. os.Root reports a path that
// leaves the root with an error of its own that says neither which link
// nor that it is permanent; fail finds the link and says both.
func (tr *tree) fail(op, key string, err error) error {
	if link := tr.linkOut(key); link != "" {
		return retry.Permanent(fmt.Errorf("fs: %s %q: %s is a symbolic link that %w: %w",
			op, key, filepath.Join(tr.root, link), errOutsideRoot, err))
	}
	err = fmt.Errorf("fs: %s %q: %w", op, key, err)
	if retry.IsPermanent(err) {
		return err
	}
	return classify(err)
}

// linkOut returns the first element of key's paths (its directories, its
// data file, its hidden attribute file and that file's directories, its
// old sidecar) that is a symbolic link os.Root will not follow, or "". It
// runs only after an operation failed, so it costs nothing on the way that
// works.
func (tr *tree) linkOut(key string) string {
	name := tr.name(key)
	var paths []string
	for _, target := range []string{name, hiddenMetaPath(name)} {
		for i, r := range target {
			if r == filepath.Separator {
				paths = append(paths, target[:i])
			}
		}
		paths = append(paths, target)
	}
	paths = append(paths, metaPath(name))
	for _, p := range paths {
		fi, err := tr.dir.Lstat(p)
		if err == nil && fi.Mode()&iofs.ModeSymlink != 0 && tr.leadsOut(p) {
			return p
		}
	}
	return ""
}

// leadsOut reports whether the symlink at p (relative to the root) is one
// os.Root refuses: absolute, or resolving to a place outside the root.
func (tr *tree) leadsOut(p string) bool {
	target, err := tr.dir.Readlink(p)
	if err != nil {
		return false
	}
	if filepath.IsAbs(target) {
		return true
	}
	real, err := filepath.EvalSymlinks(filepath.Join(tr.root, p))
	if err != nil {
		// Dangling: say so only if it would dangle outside.
		real = filepath.Join(filepath.Dir(filepath.Join(tr.realRoot, p)), target)
	}
	rel, err := filepath.Rel(tr.realRoot, real)
	return err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
