package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/reelvault/reelvault/storage"
)

// MiB is a mebibyte, for sizing test objects against part sizes.
const MiB = 1 << 20

// Payload returns n deterministic pseudo-random bytes for seed, generated as
// they are read: large objects never sit in test memory.
func Payload(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// PayloadSHA256 is the hex sha256 of Payload(seed, n).
func PayloadSHA256(t testing.TB, seed uint64, n int64) string {
	t.Helper()
	return readSHA256(t, Payload(seed, n))
}

// ObjectSHA256 is the hex sha256 of what store holds under key: what a user
// would compute after downloading it.
func ObjectSHA256(t testing.TB, store storage.Store, key string) string {
	t.Helper()
	r, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	return readSHA256(t, r)
}

func readSHA256(t testing.TB, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatalf("read: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// failingReader yields the bytes of r, then fails with err after n bytes, as
// a download from a dying signed URL does.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

// eofSpy records whether its reader was read to io.EOF, to check the Put
// contract "Put MUST read r until io.EOF".
type eofSpy struct {
	r      io.Reader
	sawEOF bool
}

func (s *eofSpy) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if errors.Is(err, io.EOF) {
		s.sawEOF = true
	}
	return n, err
}

// GatedPayload is Payload(seed, n) that, after its first `after` bytes,
// blocks until gate is closed, or fails with ctx's error once ctx is done.
// Wire tests use it to check that a driver sends bytes to the server before
// the body ends, i.e. that it streams rather than buffers.
func GatedPayload(ctx context.Context, seed uint64, n, after int64, gate <-chan struct{}) io.Reader {
	p := Payload(seed, n)
	return io.MultiReader(io.LimitReader(p, after), &gatedReader{ctx: ctx, gate: gate, r: p})
}

type gatedReader struct {
	ctx  context.Context
	gate <-chan struct{}
	r    io.Reader
}

func (g *gatedReader) Read(p []byte) (int, error) {
	select {
	case <-g.gate:
		return g.r.Read(p)
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
}
