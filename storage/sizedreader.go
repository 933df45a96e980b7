package storage

import (
	"errors"
	"fmt"
	"io"
)

// ErrBodyTooLong is the failure of a body with more bytes than declared.
var ErrBodyTooLong = errors.New("body is longer than the declared size")

// SizedReader is for drivers: it passes r through and enforces the declared size: it fails
// with io.ErrUnexpectedEOF when r ends early and with ErrBodyTooLong when r
// has more bytes. Before handing over the last declared bytes it reads one
// byte further, so that Put reads r to io.EOF even though the SDK stops at
// Content-Length, and a too-long body never reaches the server complete.
//
// It also hides r's other methods (Seek, ReadAt), which would send the SDK
// down other code paths, and records the first failure in err so Put can
// report it as the cause, whatever the SDK wrapped it in.
//
// Both SDK drivers need it because an SDK stops reading at Content-Length
// and, on some servers, commits whatever arrived before a failed read.
type SizedReader struct {
	r         io.Reader
	remaining int64 // -1: unknown size
	err       error // first error other than io.EOF
	eof       bool
}

func (b *SizedReader) Read(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.eof:
		return 0, io.EOF
	case b.remaining < 0:
		n, err := b.r.Read(p)
		return n, b.note(err)
	case b.remaining == 0:
		return 0, b.note(b.probeEOF())
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.r.Read(p)
	b.remaining -= int64(n)
	switch {
	case err == io.EOF && b.remaining > 0:
		err = fmt.Errorf("body ended %d bytes short of the declared size: %w", b.remaining, io.ErrUnexpectedEOF)
	case err == nil && b.remaining == 0:
		if err = b.probeEOF(); err != io.EOF {
			// Withhold the last bytes: with all Content-Length bytes sent,
			// the server would store the object despite the error.
			return 0, b.note(err)
		}
	}
	return n, b.note(err)
}

// probeEOF reads past the declared end, where io.EOF should be.
func (b *SizedReader) probeEOF() error {
	var one [1]byte
	for {
		n, err := b.r.Read(one[:])
		if n > 0 {
			return ErrBodyTooLong
		}
		if err != nil {
			return err
		}
	}
}

func (b *SizedReader) note(err error) error {
	switch {
	case err == nil:
	case err == io.EOF: // never wrapped, by io.Reader's contract
		b.eof = true
	default:
		b.err = err
	}
	return err
}

// NewSizedReader enforces size on r; size -1 means unknown.
func NewSizedReader(r io.Reader, size int64) *SizedReader {
	return &SizedReader{r: r, remaining: size}
}

// Err returns the first read failure other than io.EOF, or nil.
func (b *SizedReader) Err() error { return b.err }
