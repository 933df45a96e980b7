package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reelvault/reelvault/storage"
)

// List implements storage.Store. It streams: one directory's entries in
// memory at a time, never the whole listing.
//
// Lexical key order is not directory walk order: key "a-b" sorts before
// "a/c" ('-' < '/'), but a walk that lists directory "a" at name "a" visits
// "a/c" first. Sorting each directory's entries by name, with "/" appended to
// subdirectory names, yields keys in exactly lexical order, because every key
// under a directory starts with its name plus "/".
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	return s.listDir(ctx, "", prefix, fn)
}

// listDir lists the directory holding keys that start with dirKey (empty, or
// ending in "/").
func (s *Store) listDir(ctx context.Context, dirKey, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(s.root, filepath.FromSlash(dirKey))
	entries, err := os.ReadDir(dir)
	if err != nil {
		if isNotExist(err) && dirKey != "" {
			return nil // removed while we listed its parent
		}
		return classify(fmt.Errorf("fs: list %q: %w", prefix, err))
	}
	type item struct {
		key   string // dirKey + name, plus "/" for a directory
		isDir bool
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if isHidden(name) {
			continue
		}
		switch {
		case e.IsDir():
			items = append(items, item{dirKey + name + "/", true})
		case e.Type().IsRegular():
			items = append(items, item{dirKey + name, false})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if it.isDir {
			// Descend only where keys matching prefix can be.
			if strings.HasPrefix(it.key, prefix) || strings.HasPrefix(prefix, it.key) {
				if err := s.listDir(ctx, it.key, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(it.key, prefix) {
			continue
		}
		fi, err := os.Stat(filepath.Join(s.root, filepath.FromSlash(it.key)))
		if err != nil {
			if isNotExist(err) {
				continue // deleted since ReadDir
			}
			return classify(fmt.Errorf("fs: list %q: %w", prefix, err))
		}
		if err := fn(storage.ObjectInfo{Key: it.key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}
