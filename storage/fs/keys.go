package fs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/reelvault/reelvault/retry"
)

const (
	// tmpPrefix starts the name of every file Put writes before its rename.
	// A crash leaves such files behind; List never reports them.
	tmpPrefix = ".reelvault-tmp-"
	// metaSuffix ends the sidecar holding an object's attributes, next to
	// the data file: "<name>.reelvault-meta.json".
	metaSuffix = ".reelvault-meta.json"
)

// errInvalidKey is wrapped (as a permanent error) for keys this driver
// refuses to map to a path.
var errInvalidKey = errors.New("invalid key")

// validateKey refuses keys that could escape the root or alias another key
// once mapped to a path: the caller validates keys too, but a filesystem
// driver is where a bad key turns into a write outside the archive, so it
// checks again. Names reserved for temp files and sidecars are refused so an
// object can never be mistaken for either.
func validateKey(key string) error {
	bad := func(why string) error {
		return retry.Permanent(fmt.Errorf("fs: %w %q: %s", errInvalidKey, key, why))
	}
	switch {
	case key == "":
		return bad("empty")
	case strings.ContainsRune(key, 0):
		return bad("contains NUL")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	case strings.HasPrefix(key, "/") || filepath.IsAbs(key):
		return bad("absolute")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return bad("empty path segment")
		case seg == "." || seg == "..":
			return bad("dot segment")
		case strings.HasPrefix(seg, tmpPrefix):
			return bad("segment uses the reserved prefix " + tmpPrefix)
		case strings.HasSuffix(seg, metaSuffix):
			return bad("segment uses the reserved suffix " + metaSuffix)
		}
	}
	return nil
}

// path maps a validated key to its data file.
func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// metaPath is the sidecar of the data file at path.
func metaPath(path string) string {
	return path + metaSuffix
}

// isHidden reports whether a directory entry is a temp file or a sidecar,
// which List skips.
func isHidden(name string) bool {
	return strings.HasPrefix(name, tmpPrefix) || strings.HasSuffix(name, metaSuffix)
}
