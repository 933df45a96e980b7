package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/reelvault/reelvault/storage"
)

// StaleAfter is how old a temp file must be before AbortIncompleteUploads
// removes it. Put renames its temp file within moments of the last byte, so
// an hour-old one belongs to a process that died; a younger one may be a Put
// in flight in another process sharing the root.
const StaleAfter = time.Hour

// AbortIncompleteUploads implements storage.UploadAborter for a directory
// tree: it removes the temp files a crashed Put left in directories under
// prefix and in their mirror in the hidden folder, and the attribute files
// left without their data file (a crash between the two renames of Put,
// or within Delete), when older than StaleAfter. It returns how many files
// it removed.
//
// On the way it moves the attributes in the sidecars an older version
// wrote beside objects to where this one keeps them (moveSidecar), so an
// upgraded archive holds only its objects; those are not counted, as
// nothing was left unfinished.
//
// Only directories at or below the directory part of prefix are searched:
// prefix "reels/2026/" searches "reels/2026", prefix "reels/x" searches
// "reels".
func (s *Store) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	dirKey := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirKey = prefix[:i]
	}
	start := "."
	if dirKey != "" {
		if !filepath.IsLocal(filepath.FromSlash(dirKey)) || path.Clean(dirKey) != dirKey {
			return 0, fmt.Errorf("fs: clean up %q: prefix is not a plain relative path", prefix)
		}
		start = filepath.ToSlash(s.name(dirKey))
	}
	tr, err := s.open("clean up", prefix, false)
	if errors.Is(err, storage.ErrNotExist) {
		return 0, nil // no root, nothing left over
	} else if err != nil {
		return 0, err
	}
	defer tr.close()
	c := cleaner{tree: tr, ctx: ctx, cutoff: time.Now().Add(-StaleAfter)}
	err = c.walk(start, false)
	if err == nil {
		err = c.walk(path.Join(filepath.ToSlash(metaDir), start), true)
	}
	if err != nil {
		return c.removed, classify(fmt.Errorf("fs: clean up %q: %w", prefix, err))
	}
	return c.removed, nil
}

// cleaner is one AbortIncompleteUploads.
type cleaner struct {
	*tree
	ctx     context.Context
	cutoff  time.Time
	removed int
}

// walk removes the stale leftovers under start (slash-separated, relative
// to the root): in the object tree, or, with hidden, in the hidden folder.
// The walk goes through the root and, like List, never into a symlink:
// nothing outside the root is removed.
func (c *cleaner) walk(start string, hidden bool) error {
	return iofs.WalkDir(c.dir.FS(), start, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil // nothing under prefix, or removed meanwhile
			}
			return err
		}
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if first, _, _ := strings.Cut(p, "/"); !hidden && strings.EqualFold(first, hiddenDir) {
			if d.IsDir() {
				return iofs.SkipDir // walked on its own, with its own rules
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if !c.leftover(filepath.FromSlash(p), d.Name(), hidden) {
			if !hidden && strings.HasSuffix(d.Name(), metaSuffix) {
				c.moveSidecar(filepath.FromSlash(p)) // an object's, from an older version
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(c.cutoff) {
			return nil // gone already, or maybe still being written
		}
		if err := c.dir.Remove(filepath.FromSlash(p)); err != nil && !isNotExist(err) {
			return err
		}
		c.removed++
		return nil
	})
}

// leftover reports whether the file at p (relative to the root) is debris
// of an unfinished Put or Delete: a temp file, or an attribute file whose
// data file does not exist (a sidecar beside it, or, with hidden, a file
// in the hidden folder).
func (tr *tree) leftover(p, name string, hidden bool) bool {
	if strings.HasPrefix(name, tmpPrefix) {
		return true
	}
	if !strings.HasSuffix(name, metaSuffix) {
		return false
	}
	data := strings.TrimSuffix(p, metaSuffix)
	if hidden {
		rel, err := filepath.Rel(metaDir, data)
		if err != nil || !filepath.IsLocal(rel) {
			return false
		}
		data = rel
	}
	_, err := tr.dir.Lstat(data)
	return isNotExist(err)
}
