package fs

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reelvault/reelvault/storage"
)

// List implements storage.Store. It streams: one directory's entries in
// memory at a time, never the whole listing. It lists regular files only
// and never descends into a symlink, so a link cannot make it walk outside
// the root, loop, or list an object twice.
//
// Lexical key order is not directory walk order: key "a-b" sorts before
// "a/c" ('-' < '/'), but a walk that lists directory "a" at name "a" visits
// "a/c" first. Sorting each directory's entries by key, with "/" appended to
// subdirectory keys, yields keys in exactly lexical order, because every key
// under a directory starts with its key plus "/". In the escaped layout the
// names are unescaped first: their order on disk is not their keys' order.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	tr, err := s.open("list", prefix, false)
	if err != nil {
		return err
	}
	defer tr.close()
	return tr.listDir(ctx, "", ".", prefix, fn)
}

// listDir lists dir (relative to the root), the directory holding keys that
// start with dirKey (empty, or ending in "/").
func (tr *tree) listDir(ctx context.Context, dirKey, dir, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := tr.readDir(dir)
	if err != nil {
		if isNotExist(err) && dirKey != "" {
			return nil // removed while we listed its parent
		}
		return classify(fmt.Errorf("fs: list %q: %w", prefix, err))
	}
	type item struct {
		key   string // dirKey + name, plus "/" for a directory
		name  string // relative to the root
		isDir bool
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if isHidden(name) || !e.IsDir() && !e.Type().IsRegular() || dirKey == "" && strings.EqualFold(name, hiddenDir) {
			continue
		}
		seg := name
		if tr.escapeCase {
			var ok bool
			if seg, ok = unescapeSegment(name); !ok {
				continue // placed by hand: no key leads here
			}
		}
		it := item{key: dirKey + seg, name: filepath.Join(dir, name), isDir: e.IsDir()}
		if it.isDir {
			it.key += "/"
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if it.isDir {
			// Descend only where keys matching prefix can be.
			if strings.HasPrefix(it.key, prefix) || strings.HasPrefix(prefix, it.key) {
				if err := tr.listDir(ctx, it.key, it.name, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(it.key, prefix) {
			continue
		}
		fi, err := tr.dir.Lstat(it.name)
		switch {
		case isNotExist(err):
			continue // deleted since ReadDir
		case err != nil:
			return classify(fmt.Errorf("fs: list %q: %w", prefix, err))
		case !fi.Mode().IsRegular():
			continue // replaced by a link or a directory since ReadDir
		}
		if err := fn(storage.ObjectInfo{Key: it.key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}
