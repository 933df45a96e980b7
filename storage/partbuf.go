package storage

import (
	"fmt"
	"io"
	"sync"
)

// smallBody is the size below which ReadPart allocates instead of taking a
// pooled part buffer: a task.json should not pin a 16 MiB buffer.
const smallBody = 256 << 10

// PartBuffers recycles the buffers the SDK drivers read a body into before
// a signed PUT (see HashingPutter). A fresh buffer per object is zeroed by
// the runtime and is garbage a moment later; the pool keeps a few across
// Puts, and the garbage collector still frees idle ones. Memory is bounded
// by the largest body read so far (at most the part size) times the Puts in
// flight.
type PartBuffers struct {
	max  int64
	pool sync.Pool // of *[]byte
}

// NewPartBuffers pools buffers for bodies of up to max bytes (the driver's
// part size).
func NewPartBuffers(max int64) *PartBuffers { return &PartBuffers{max: max} }

// ReadPart reads all of body, which must be exactly n bytes (0 <= n <= max),
// into a buffer and returns it; the caller hands it back with Release once
// the request is done. It reads to io.EOF, so a SizedReader's check of the
// declared size has run when it returns nil.
func (b *PartBuffers) ReadPart(body io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > b.max {
		return nil, fmt.Errorf("storage: part of %d bytes outside [0, %d]", n, b.max)
	}
	buf := b.get(n)
	if _, err := io.ReadFull(body, buf); err != nil {
		b.Release(buf)
		return nil, err
	}
	// The body must end here. A SizedReader has already seen io.EOF (it
	// reads one byte past the declared size before handing over the last
	// bytes); for n == 0 this read is its first.
	var one [1]byte
	if m, err := body.Read(one[:]); m > 0 || err != io.EOF {
		b.Release(buf)
		if err == nil || err == io.EOF {
			err = ErrBodyTooLong
		}
		return nil, err
	}
	return buf, nil
}

// Fill reads body into a buffer of up to n bytes until the buffer is full
// (err nil: the body may have more) or the body ends (err io.EOF; the buffer
// holds what came before, possibly nothing). Any other error is the body's.
// The caller hands the buffer back with Release.
func (b *PartBuffers) Fill(body io.Reader, n int64) ([]byte, error) {
	buf := b.get(n)
	m, err := io.ReadFull(body, buf)
	switch err {
	case nil:
	case io.ErrUnexpectedEOF:
		err = io.EOF
		fallthrough
	case io.EOF:
		buf = buf[:m]
	default:
		b.Release(buf)
		return nil, err
	}
	return buf, err
}

// get returns a buffer of length n, pooled when n is at least smallBody.
func (b *PartBuffers) get(n int64) []byte {
	p, ok := b.pool.Get().(*[]byte)
	if ok && int64(cap(*p)) >= n && n >= smallBody {
		return (*p)[:n]
	}
	if ok {
		b.pool.Put(p) // not the right size for this body; another may be
	}
	return make([]byte, n)
}

// Release returns a buffer from ReadPart or Fill to the pool.
func (b *PartBuffers) Release(buf []byte) {
	if cap(buf) >= smallBody {
		buf = buf[:0]
		b.pool.Put(&buf)
	}
}
