// Package fs is the storage driver for a local directory tree: one file per
// key under a root, and nothing else in sight. An object's attributes
// (content type, disposition, metadata, tags) are in an extended attribute
// of its file where the filesystem keeps them, else in one hidden folder at
// the top of the root, .reelvault/meta; attrs.go says how, and how the
// sidecar files of older archives (<name>.reelvault-meta.json beside each
// object) are still read.
//
// Put is atomic through write-to-temp-then-rename in the destination
// directory (same filesystem, so rename(2) is atomic), with fsyncs of the
// file and the directory so an object that Put reported stored survives a
// crash.
//
// Every access goes through an os.Root opened on the root directory, so no
// key and no symbolic link under the root reaches a file outside it: a Put,
// Stat, Open or Delete whose path leads out through a symlink fails with a
// permanent error naming the link, and List does not descend into symlinked
// directories. Symlinks that stay inside the root are followed for the key
// they are named by, but not listed.
//
// On a filesystem that does not tell upper-case from lower-case letters,
// a new root stores names escaped so that keys differing only in case stay
// apart; case.go says how and why.
package fs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

const (
	dirMode  = 0o700 // archives hold users' videos: owner only
	fileMode = 0o600 // owner only, as os.CreateTemp makes them; asserted by the tests
)

// Store keeps objects as files under a root directory.
type Store struct {
	root     string // absolute, for Location and messages
	realRoot string // root with symlinks resolved, to name a link that leads out
	// escapeCase is the escaped layout (case.go); plainFolding a root that
	// folds case but keeps the plain layout of the objects it already held.
	escapeCase, plainFolding bool
	// noXattr stores attributes in the hidden folder even where the
	// filesystem keeps extended attributes: set by tests only, to run the
	// fallback on any machine.
	noXattr bool
}

// tree is a Store bound to its root directory, opened as an os.Root for
// one operation: every file access goes through it. The Store itself holds
// no open file, so it needs no Close and keeps nothing mounted busy, and a
// root that was removed or unmounted fails loudly instead of being written
// to in its deleted directory.
type tree struct {
	*Store
	dir *os.Root
}

// open binds s to its root for one operation (op on key, for errors).
// With create, a root that went missing is made again: a Put creates any
// directory its key needs, and keeping the video beats leaving it to
// expire.
func (s *Store) open(op, key string, create bool) (*tree, error) {
	dir, err := os.OpenRoot(s.root)
	if create && errors.Is(err, iofs.ErrNotExist) {
		if err := os.MkdirAll(s.root, dirMode); err != nil {
			return nil, classify(fmt.Errorf("fs: %s %q: create root: %w", op, key, err))
		}
		dir, err = os.OpenRoot(s.root)
	}
	switch {
	case isNotExist(err):
		// No root, no object: Stat and Open report what is true.
		return nil, fmt.Errorf("fs: %s %q: %w: root %s is missing: %w", op, key, storage.ErrNotExist, s.root, err)
	case err != nil:
		return nil, classify(fmt.Errorf("fs: %s %q: open root: %w", op, key, err))
	}
	return &tree{Store: s, dir: dir}, nil
}

func (tr *tree) close() { tr.dir.Close() }

// New returns a Store rooted at root, creating it (mode 0700) if needed.
// The root itself may be a symlink (to another disk, say); nothing under
// it may lead outside. New probes whether the filesystem tells case apart
// (see case.go); CaseProblem reports a root that cannot.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("fs: root %q: %w", root, err))
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, classify(fmt.Errorf("fs: create root %s: %w", abs, err))
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, classify(fmt.Errorf("fs: open root %s: %w", abs, err))
	}
	s := &Store{root: abs, realRoot: real}
	tr, err := s.open("open", "", false)
	if err != nil {
		return nil, err
	}
	defer tr.close()
	if err := tr.chooseLayout(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the file that holds key, for people and tools that read the
// archive directly: in the escaped layout it is not root + key.
func (s *Store) Path(key string) (string, error) {
	if err := validateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, s.name(key)), nil
}

// Put implements storage.Store. The data goes to a temp file in the
// destination directory, with the attributes in its extended attribute, so
// the rename makes both visible at once. Where that attribute cannot be
// set, the attributes go to the hidden folder, renamed into place before
// the data file, so once the object is visible Stat already returns them.
//
// Two narrow windows remain, both after every byte is safely on disk: on
// the hidden-folder path, if the data rename fails, an old object keeps its
// data but shows the new attributes; if a directory fsync fails, Put
// reports an error although the object is visible (the rename may not
// survive a crash). A retry of the Put repairs both.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (err error) {
	if err := validateKey(key); err != nil {
		return err
	}
	tr, err := s.open("put", key, true)
	if err != nil {
		return err
	}
	defer tr.close()
	name := tr.name(key)
	dir := filepath.Dir(name)
	if err := tr.mkdirAll(dir); err != nil {
		return tr.fail("put", key, err)
	}
	// Always some attributes, "{}" at least: a new file without any would
	// show an old object's hidden file or sidecar, if one was left.
	meta, err := json.Marshal(attrs{opts.ContentType, opts.ContentDisposition, opts.Metadata, opts.Tags})
	if err != nil {
		return fmt.Errorf("fs: put %q: encode attributes: %w", key, err)
	}
	tr.removeLeftovers(dir, name)
	inXattr := false
	tmp, err := tr.writeTemp(dir, name, ctxReader{ctx: ctx, r: r}, size, func(f *os.File) {
		inXattr = tr.setXattr(f, meta)
	})
	if err != nil {
		return tr.fail("put", key, err)
	}
	defer func() {
		if err != nil {
			tr.dir.Remove(tmp)
		}
	}()
	metaTmp := ""
	if !inXattr {
		if metaTmp, err = tr.writeHidden(name, meta); err != nil {
			return tr.fail("put", key, fmt.Errorf("write attributes: %w", err))
		}
	}
	// Last chance to honour a cancellation: past the renames the object is
	// committed and reporting ctx.Err() would be a lie.
	if err := ctx.Err(); err != nil {
		if metaTmp != "" {
			tr.dir.Remove(metaTmp)
		}
		return err
	}
	if metaTmp != "" {
		if err := tr.dir.Rename(metaTmp, hiddenMetaPath(name)); err != nil {
			tr.dir.Remove(metaTmp)
			return tr.fail("put", key, fmt.Errorf("write attributes: %w", err))
		}
	}
	if err := tr.dir.Rename(tmp, name); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			// Go's rename refuses to replace a directory with EEXIST: a
			// directory stands where the object must be.
			err = fmt.Errorf("%w: %w", syscall.EISDIR, err)
		}
		return tr.fail("put", key, err)
	}
	if err := tr.syncDir(dir); err != nil {
		return tr.fail("put", key, fmt.Errorf("sync directory: %w", err))
	}
	if metaTmp != "" {
		if err := tr.syncDir(filepath.Dir(hiddenMetaPath(name))); err != nil {
			return tr.fail("put", key, fmt.Errorf("sync directory: %w", err))
		}
	}
	tr.dropSuperseded(name, inXattr)
	return nil
}

// writeTemp copies r into a new temp file in dir (relative to the root),
// checks it yielded exactly size bytes (when size >= 0), calls finish (if
// not nil) on the file, fsyncs and closes it, and returns its name. On
// error nothing is left behind. dest, the final name, names the file in
// errors: the temp name means nothing to whoever reads the log.
func (tr *tree) writeTemp(dir, dest string, r io.Reader, size int64, finish func(*os.File)) (name string, err error) {
	f, tmp, err := tr.createTemp(dir, dest)
	if err != nil {
		return "", writeErr(filepath.Join(tr.root, dest), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			tr.dir.Remove(tmp)
		}
	}()
	src := &readErrRecorder{r: r}
	n, err := io.Copy(f, src)
	switch {
	case src.err != nil:
		return "", fmt.Errorf("read body: %w", src.err)
	case err != nil:
		return "", writeErr(filepath.Join(tr.root, dest), err)
	case size >= 0 && n < size:
		return "", fmt.Errorf("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	case size >= 0 && n > size:
		return "", fmt.Errorf("body has %d bytes, more than the declared %d", n, size)
	}
	if finish != nil {
		finish(f)
	}
	if err := f.Sync(); err != nil {
		return "", writeErr(filepath.Join(tr.root, dest), err)
	}
	if err := f.Close(); err != nil {
		return "", writeErr(filepath.Join(tr.root, dest), err)
	}
	return tmp, nil
}

// createTemp is os.CreateTemp through the root: a new file (mode 0600) in
// dir named tempStem(dest) and a random suffix.
func (tr *tree) createTemp(dir, dest string) (*os.File, string, error) {
	stem := filepath.Join(dir, tempStem(dest))
	for range 100 {
		name := stem + strconv.FormatUint(rand.Uint64(), 36)
		f, err := tr.dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if errors.Is(err, iofs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("create a temp file in %s: too many name collisions", filepath.Join(tr.root, dir))
}

// readErrRecorder remembers the error its reader returned, so a failed copy
// can tell a failing source (the caller's problem, maybe transient) from a
// failing disk.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// writeErr names dest in a write failure and classifies it.
func writeErr(dest string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return retry.Permanent(fmt.Errorf("disk full writing %s: %w", dest, err))
	}
	return classify(fmt.Errorf("writing %s: %w", dest, err))
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return storage.ObjectInfo{}, err
	}
	tr, err := s.open("stat", key, false)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	defer tr.close()
	name := tr.name(key)
	// The extended attribute is read from the open file, never by path:
	// the file is the one os.Root let us reach. O_NONBLOCK, so a FIFO
	// placed at the key cannot hang the open; it is no object anyway.
	f, err := tr.dir.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return storage.ObjectInfo{}, tr.missing("stat", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return storage.ObjectInfo{}, tr.fail("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.ObjectInfo{}, fmt.Errorf("fs: stat %q: not a file: %w", key, storage.ErrNotExist)
	}
	a, err := tr.readAttrs(f, name)
	if err != nil {
		return storage.ObjectInfo{}, tr.fail("stat", key, err)
	}
	return storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime(),
		ContentType: a.ContentType, ContentDisposition: a.ContentDisposition, Metadata: a.Metadata}, nil
}

// Open implements storage.Store. The file it returns is an io.ReadSeeker,
// for Range requests.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	tr, err := s.open("open", key, false)
	if err != nil {
		return nil, err
	}
	defer tr.close()
	f, err := tr.dir.Open(tr.name(key))
	if err != nil {
		return nil, tr.missing("open", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, classify(fmt.Errorf("fs: open %q: %w", key, err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("fs: open %q: not a file: %w", key, storage.ErrNotExist)
	}
	return f, nil
}

// Delete implements storage.Store. The data file goes first, and with it
// an extended attribute; then the hidden attribute file and an old sidecar,
// if there are any. A crash in between leaves a stale attribute file that
// Stat never reads (there is no object) and that the next Put of the key,
// or AbortIncompleteUploads, removes.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	tr, err := s.open("delete", key, false)
	if errors.Is(err, storage.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer tr.close()
	name := tr.name(key)
	for _, p := range []string{name, hiddenMetaPath(name), metaPath(name)} {
		if err := tr.dir.Remove(p); err != nil && !isNotExist(err) {
			return tr.fail("delete", key, err)
		}
	}
	return nil
}

// Location implements storage.Store.
func (s *Store) Location() string { return "file://" + filepath.ToSlash(s.root) }

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// syncDir fsyncs dir (relative to the root), so the renames in it survive
// a crash.
func (tr *tree) syncDir(dir string) error {
	d, err := tr.dir.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// isNotExist also treats ENOTDIR as missing: for key "a/b" where "a" is an
// object, there is no object "a/b".
func isNotExist(err error) bool {
	return errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// classify marks errors a retry cannot fix as permanent. A full disk is
// among them: it needs someone to free space, and retrying in a loop only
// rewrites the same partial temp file.
func classify(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			return retry.Permanent(fmt.Errorf("disk full writing %s: %w", pe.Path, err))
		}
		return retry.Permanent(fmt.Errorf("disk full: %w", err))
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS),
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENAMETOOLONG):
		return retry.Permanent(err)
	}
	return err
}

var _ storage.Store = (*Store)(nil)

// tempStem starts the names of dest's temp files: tmpPrefix and a hash of
// dest's name, so the temp files of one key can be told from another's.
func tempStem(dest string) string {
	h := sha256.Sum256([]byte(filepath.Base(dest)))
	return tmpPrefix + hex.EncodeToString(h[:8]) + "-"
}

// removeLeftovers deletes the temp files of name (and of its sidecar, as
// older versions wrote) that an earlier Put of the same key left in dir
// when its process was killed: the retry that follows a crash leaves
// the directory clean. Puts of one key never run at once (the catalog lock
// and the scheduler see to it), so any such file is dead.
func (tr *tree) removeLeftovers(dir, name string) {
	entries, err := tr.readDir(dir)
	if err != nil {
		return
	}
	data, meta := tempStem(name), tempStem(metaPath(name))
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, data) || strings.HasPrefix(n, meta) {
			tr.dir.Remove(filepath.Join(dir, n))
		}
	}
}

// readDir is os.ReadDir through the root.
func (tr *tree) readDir(dir string) ([]iofs.DirEntry, error) {
	d, err := tr.dir.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}
