package fs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/reelvault/reelvault/retry"
)

const (
	// tmpPrefix starts the name of every file Put writes before its rename,
	// and of the case probe New writes. A crash leaves such files behind;
	// List never reports them.
	tmpPrefix = ".reelvault-tmp-"
	// metaSuffix ends the files holding an object's attributes where its
	// filesystem keeps no extended attributes: in the hidden folder now,
	// beside the data file in archives of older versions (attrs.go).
	metaSuffix = ".reelvault-meta.json"
	// layoutName is the file at the top of a root that records its layout
	// (see case.go). No key segment may be named so.
	layoutName = ".reelvault-layout"
)

// errInvalidKey is wrapped (as a permanent error) for keys this driver
// refuses to map to a path.
var errInvalidKey = errors.New("invalid key")

// validateKey refuses keys that could escape the root or alias another key
// once mapped to a path: the caller validates keys too, but a filesystem
// driver is where a bad key turns into a write outside the archive, so it
// checks again. Names reserved for temp files, sidecars, the layout file
// and the hidden folder are refused so an object can never be mistaken for
// one of them. The hidden folder's name is refused in any case: on a
// filesystem that folds case, ".Reelvault" is the same folder.
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
	if first, _, _ := strings.Cut(key, "/"); strings.EqualFold(first, hiddenDir) {
		return bad("first segment uses the reserved name " + hiddenDir)
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
		case seg == layoutName:
			return bad("segment uses the reserved name " + layoutName)
		}
	}
	return nil
}

// name maps a validated key, or a key prefix ending at a segment boundary,
// to its path relative to the root, escaped when the root's layout says so.
func (s *Store) name(key string) string {
	if !s.escapeCase {
		return filepath.FromSlash(key)
	}
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = escapeSegment(seg)
	}
	return filepath.Join(segs...)
}

// metaPath is the sidecar of the data file at path.
func metaPath(path string) string {
	return path + metaSuffix
}

// isHidden reports whether a directory entry is a temp file, a sidecar or
// the layout file, which List skips.
func isHidden(name string) bool {
	return strings.HasPrefix(name, tmpPrefix) || strings.HasSuffix(name, metaSuffix) || name == layoutName
}

// The escaped layout, used on roots whose filesystem folds case (see
// case.go), writes every key segment so that two different segments never
// have names the filesystem could take for the same one:
//
//   - an upper-case ASCII letter becomes '^' and its lower-case letter:
//     "asyntask_AbC" is stored as "asyntask_^ab^c";
//   - '^' itself becomes "^^";
//   - a byte outside ASCII becomes "^#" and two lower-case hex digits, as
//     filesystems that fold case also fold non-ASCII letters ("É" and "é"),
//     and some (APFS) take two Unicode spellings of "é" for one name.
//
// Everything else is kept. An escaped name is plain lower-case ASCII, which
// no filesystem folds or normalises further, and names without upper-case
// letters, '^' or non-ASCII bytes (every temp and sidecar name, and most
// keys) are unchanged.
const escapeByte = '^'

// escapeSegment escapes one key segment for the escaped layout.
func escapeSegment(seg string) string {
	if !strings.ContainsFunc(seg, func(r rune) bool { return r >= 'A' && r <= 'Z' || r == escapeByte || r >= 0x80 }) {
		return seg
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(seg) + 8)
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(escapeByte)
			b.WriteByte(c + 'a' - 'A')
		case c == escapeByte:
			b.WriteString("^^")
		case c >= 0x80:
			b.WriteString("^#")
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeSegment reverses escapeSegment. It reports false for a name
// escapeSegment cannot have written (an upper-case letter, a stray '^'):
// a file placed there by hand, which no key maps to.
func unescapeSegment(name string) (string, bool) {
	if !strings.ContainsFunc(name, func(r rune) bool { return r >= 'A' && r <= 'Z' || r == escapeByte || r >= 0x80 }) {
		return name, true
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 0x80:
			return "", false
		case c != escapeByte:
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(name) {
			return "", false
		}
		i++
		switch c := name[i]; {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c == escapeByte:
			b.WriteByte(escapeByte)
		case c == '#' && i+2 < len(name):
			hi, ok1 := unhex(name[i+1])
			lo, ok2 := unhex(name[i+2])
			if !ok1 || !ok2 || hi < 8 {
				return "", false
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unhex decodes one lower-case hex digit, the only case escapeSegment writes.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
