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
// prefix, and the sidecars left without their data file (a crash between
// the two renames of Put), when older than StaleAfter. It returns how many
// files it removed.
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
	cutoff := time.Now().Add(-StaleAfter)
	removed := 0
	// The walk goes through the root and, like List, never into a symlink:
	// nothing outside the root is removed.
	err = iofs.WalkDir(tr.dir.FS(), start, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil // nothing under prefix, or removed meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !tr.leftover(filepath.FromSlash(p), d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil // gone already, or maybe still being written
		}
		if err := tr.dir.Remove(filepath.FromSlash(p)); err != nil && !isNotExist(err) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, classify(fmt.Errorf("fs: clean up %q: %w", prefix, err))
	}
	return removed, nil
}

// leftover reports whether the file at p (relative to the root) is debris
// of an unfinished Put: a temp file, or a sidecar whose data file does not
// exist.
func (tr *tree) leftover(p, name string) bool {
	if strings.HasPrefix(name, tmpPrefix) {
		return true
	}
	if !strings.HasSuffix(name, metaSuffix) {
		return false
	}
	_, err := tr.dir.Lstat(strings.TrimSuffix(p, metaSuffix))
	return isNotExist(err)
}
