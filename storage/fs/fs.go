// Package fs is the storage driver for a local directory tree: one file per
// key under a root, attributes in a JSON sidecar next to each file.
//
// Put is atomic through write-to-temp-then-rename in the destination
// directory (same filesystem, so rename(2) is atomic), with fsyncs of the
// file and the directory so an object that Put reported stored survives a
// crash.
package fs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

const (
	dirMode  = 0o700 // archives hold users' videos: owner only
	fileMode = 0o600 // os.CreateTemp's mode, asserted by the tests
)

// Store keeps objects as files under a root directory.
type Store struct {
	root string // absolute
}

// New returns a Store rooted at root, creating it (mode 0700) if needed.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("fs: root %q: %w", root, err))
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, classify(fmt.Errorf("fs: create root %s: %w", abs, err))
	}
	return &Store{root: abs}, nil
}

// attrs is the sidecar content: everything PutOptions carries that a plain
// file cannot hold.
type attrs struct {
	ContentType        string            `json:"content_type,omitempty"`
	ContentDisposition string            `json:"content_disposition,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
}

// Put implements storage.Store. The data goes to a temp file in the
// destination directory; the sidecar is renamed into place before the data
// file, so once the object is visible Stat already returns its attributes.
//
// Two narrow windows remain, both after every byte is safely on disk: if
// the data rename fails, an old object keeps its data but shows the new
// attributes; if the directory fsync fails, Put reports an error although
// the object is visible (the rename may not survive a crash). A retry of
// the Put repairs both.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (err error) {
	if err := validateKey(key); err != nil {
		return err
	}
	path := s.path(key)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return classify(fmt.Errorf("fs: put %q: create directory: %w", key, err))
	}
	removeLeftovers(dir, path)
	tmp, err := writeTemp(dir, path, ctxReader{ctx: ctx, r: r}, size)
	if err != nil {
		return fmt.Errorf("fs: put %q: %w", key, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()

	meta, err := json.Marshal(attrs{opts.ContentType, opts.ContentDisposition, opts.Metadata, opts.Tags})
	if err != nil {
		return fmt.Errorf("fs: put %q: encode attributes: %w", key, err)
	}
	metaTmp, err := writeTemp(dir, metaPath(path), bytes.NewReader(meta), int64(len(meta)))
	if err != nil {
		return fmt.Errorf("fs: put %q: write attributes: %w", key, err)
	}
	// Last chance to honour a cancellation: past the renames the object is
	// committed and reporting ctx.Err() would be a lie.
	if err := ctx.Err(); err != nil {
		os.Remove(metaTmp)
		return err
	}
	if err := os.Rename(metaTmp, metaPath(path)); err != nil {
		os.Remove(metaTmp)
		return classify(fmt.Errorf("fs: put %q: %w", key, err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return classify(fmt.Errorf("fs: put %q: %w", key, err))
	}
	if err := syncDir(dir); err != nil {
		return classify(fmt.Errorf("fs: put %q: sync directory: %w", key, err))
	}
	return nil
}

// writeTemp copies r into a new temp file in dir, checks it yielded exactly
// size bytes (when size >= 0), fsyncs and closes it, and returns its name.
// On error nothing is left behind. dest, the final path, names the file in
// errors: the temp name means nothing to whoever reads the log.
func writeTemp(dir, dest string, r io.Reader, size int64) (name string, err error) {
	f, err := os.CreateTemp(dir, tempStem(dest)+"*")
	if err != nil {
		return "", writeErr(dest, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	src := &readErrRecorder{r: r}
	n, err := io.Copy(f, src)
	switch {
	case src.err != nil:
		return "", fmt.Errorf("read body: %w", src.err)
	case err != nil:
		return "", writeErr(dest, err)
	case size >= 0 && n < size:
		return "", fmt.Errorf("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	case size >= 0 && n > size:
		return "", fmt.Errorf("body has %d bytes, more than the declared %d", n, size)
	}
	if err := f.Sync(); err != nil {
		return "", writeErr(dest, err)
	}
	if err := f.Close(); err != nil {
		return "", writeErr(dest, err)
	}
	return f.Name(), nil
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
	path := s.path(key)
	fi, err := os.Stat(path)
	if err != nil {
		return storage.ObjectInfo{}, notExistOr(key, fmt.Errorf("fs: stat %q: %w", key, err))
	}
	if !fi.Mode().IsRegular() {
		return storage.ObjectInfo{}, fmt.Errorf("fs: stat %q: not a file: %w", key, storage.ErrNotExist)
	}
	info := storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	raw, err := os.ReadFile(metaPath(path))
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		// Placed by hand, not by Put: no attributes.
	case err != nil:
		return storage.ObjectInfo{}, classify(fmt.Errorf("fs: stat %q: read attributes: %w", key, err))
	default:
		var a attrs
		if err := json.Unmarshal(raw, &a); err != nil {
			return storage.ObjectInfo{}, retry.Permanent(fmt.Errorf("fs: stat %q: corrupt attributes in %s: %w", key, metaPath(path), err))
		}
		info.ContentType, info.ContentDisposition, info.Metadata = a.ContentType, a.ContentDisposition, a.Metadata
	}
	return info, nil
}

// Open implements storage.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, notExistOr(key, fmt.Errorf("fs: open %q: %w", key, err))
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

// Delete implements storage.Store. The data file goes first: a crash in
// between leaves a stale sidecar that Stat never reads and the next Put
// replaces.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	path := s.path(key)
	for _, p := range []string{path, metaPath(path)} {
		if err := os.Remove(p); err != nil && !isNotExist(err) {
			return classify(fmt.Errorf("fs: delete %q: %w", key, err))
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
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

func notExistOr(key string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("%w: %w", storage.ErrNotExist, err)
	}
	return classify(err)
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

// removeLeftovers deletes the temp files an earlier Put of the same key
// left when its process was killed: the retry that follows a crash leaves
// the directory clean. Puts of one key never run at once (the catalog lock
// and the scheduler see to it), so any such file is dead.
func removeLeftovers(dir, path string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	data, meta := tempStem(path), tempStem(metaPath(path))
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, data) || strings.HasPrefix(n, meta) {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
