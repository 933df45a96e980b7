// Package mp4 reads what an MP4 (ISO BMFF) file says about itself while its
// bytes stream past: the brand in ftyp, the duration in moov/mvhd and the
// frame size of the video track in moov/trak/tkhd. It is not a demuxer: it
// walks the top-level boxes, skips mdat and everything else it does not need
// without buffering it, and keeps only moov in memory, up to a cap. A file
// must end where its last top-level box ends: one that stops inside a box
// was cut short, even when ftyp and moov were whole.
//
// Every size in a file may lie. A Probe never panics and never allocates
// more than its moov cap, whatever it is fed; a malformed file gives an error
// from Result.
package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// DefaultMaxMoov caps the moov box a Probe buffers. A 15 s clip has a moov
// of some tens of KiB; two hours of video at 60 fps have a few MiB.
const DefaultMaxMoov = 32 << 20

// ErrNotMP4 is wrapped by Result errors that mean the bytes are not a
// readable MP4: a lying size, a truncated box, a missing ftyp or moov.
var ErrNotMP4 = errors.New("not a readable MP4")

// Info is what a file's own boxes say.
type Info struct {
	Duration float64 // seconds, from mvhd; 0 when the file leaves it unknown
	Width    int     // of the first track with a non-zero frame size (tkhd)
	Height   int     // 0 and 0 when the file has no video track
	Brand    string  // ftyp's major brand, e.g. "isom"
}

// Probe is an io.Writer fed a file's bytes in order, in pieces of any size
// (a downloader tees the body into it). Write never fails, so the tee never
// breaks a download: what went wrong is kept for Result. The zero value is
// ready, with DefaultMaxMoov.
type Probe struct {
	// MaxMoov caps the bytes of moov kept in memory; 0 means DefaultMaxMoov.
	MaxMoov int

	off  int64  // bytes seen so far
	hdr  []byte // header bytes of the current box while it is being read
	typ  string // type of the current box, once its header is read
	left int64  // payload bytes of the current box still to come; -1 = to the end of the file
	want int    // payload bytes of the current box to keep (moov: all; ftyp: the brand)
	buf  []byte // the kept payload

	ftyp, moov bool // seen and parsed
	info       Info
	err        error
}

// Write implements io.Writer. It always consumes all of p and returns nil.
func (p *Probe) Write(b []byte) (int, error) {
	n := len(b)
	p.off += int64(n)
	for len(b) > 0 && p.err == nil {
		if p.typ == "" {
			b = p.readHeader(b)
			continue
		}
		take := len(b)
		if p.left >= 0 && int64(take) > p.left {
			take = int(p.left)
		}
		if keep := min(take, p.want-len(p.buf)); keep > 0 {
			p.buf = append(p.buf, b[:keep]...)
		}
		b = b[take:]
		if p.left >= 0 {
			p.left -= int64(take)
			if p.left == 0 {
				p.endBox()
			}
		}
	}
	return n, nil
}

// readHeader consumes header bytes from b and, once the header is whole,
// starts the box. It returns what is left of b.
func (p *Probe) readHeader(b []byte) []byte {
	need := 8
	if len(p.hdr) >= 8 && binary.BigEndian.Uint32(p.hdr) == 1 {
		need = 16 // 64-bit largesize follows the type
	}
	k := min(need-len(p.hdr), len(b))
	p.hdr = append(p.hdr, b[:k]...)
	b = b[k:]
	if len(p.hdr) < need {
		return b
	}
	if need == 8 && binary.BigEndian.Uint32(p.hdr) == 1 {
		return b // now read the largesize
	}
	size, typ := boxHeader(p.hdr)
	hlen := int64(len(p.hdr))
	p.hdr = p.hdr[:0]
	switch {
	case size == 0:
		p.left = -1
	case size < uint64(hlen) || size > math.MaxInt64:
		p.fail(fmt.Errorf("box %q at offset %d declares size %d", printable(typ), p.off-int64(len(b))-hlen, size))
		return nil
	default:
		p.left = int64(size) - hlen
	}
	p.typ, p.want, p.buf = typ, 0, p.buf[:0]
	switch {
	case typ == "ftyp" && !p.ftyp:
		p.want = 8
	case typ == "moov" && !p.moov:
		if p.left > int64(p.maxMoov()) {
			p.fail(fmt.Errorf("moov box of %d bytes is over the %d byte cap", p.left, p.maxMoov()))
			return nil
		}
		p.want = p.maxMoov() // grows only as bytes arrive
	}
	if p.left == 0 {
		p.endBox()
	}
	return b
}

// endBox parses the box that just ended, if it is one the probe reads.
func (p *Probe) endBox() {
	switch {
	case p.typ == "ftyp" && !p.ftyp:
		p.parseFtyp()
	case p.typ == "moov" && !p.moov:
		p.parseMoov()
	}
	p.typ, p.buf = "", p.buf[:0]
}

func (p *Probe) maxMoov() int {
	if p.MaxMoov > 0 {
		return p.MaxMoov
	}
	return DefaultMaxMoov
}

func (p *Probe) fail(err error) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %w", ErrNotMP4, err)
	}
}

func (p *Probe) parseFtyp() {
	if len(p.buf) < 8 {
		p.fail(fmt.Errorf("ftyp box too short (%d bytes)", len(p.buf)))
		return
	}
	p.info.Brand = printable(string(p.buf[:4]))
	p.ftyp = true
}

func (p *Probe) parseMoov() {
	if len(p.buf) >= p.maxMoov() && p.left < 0 {
		p.fail(fmt.Errorf("moov box is over the %d byte cap", p.maxMoov()))
		return
	}
	if err := parseMoov(p.buf, &p.info); err != nil {
		p.fail(err)
		return
	}
	p.moov = true
}

// Result returns what the file said, once all of it was written. It may be
// called more than once; a file that ends inside a box, or lacks ftyp or
// moov, is an error wrapping ErrNotMP4.
func (p *Probe) Result() (Info, error) {
	if p.err != nil {
		return Info{}, p.err
	}
	q := *p // finish a box that runs to the end of the file without changing p
	q.buf = append([]byte(nil), p.buf...)
	switch {
	case len(q.hdr) > 0:
		q.fail(fmt.Errorf("file ends inside a box header, at offset %d", q.off))
	case q.typ != "" && q.left > 0:
		q.fail(fmt.Errorf("file ends %d bytes before the end of its %q box", q.left, printable(q.typ)))
	case q.typ != "":
		q.endBox()
	}
	switch {
	case q.err != nil:
	case q.off == 0:
		q.fail(errors.New("empty file"))
	case !q.ftyp:
		q.fail(errors.New("no ftyp box"))
	case !q.moov:
		q.fail(errors.New("no moov box"))
	}
	if q.err != nil {
		return Info{}, q.err
	}
	return q.info, nil
}

// boxHeader decodes an 8- or 16-byte box header.
func boxHeader(h []byte) (size uint64, typ string) {
	size = uint64(binary.BigEndian.Uint32(h))
	typ = string(h[4:8])
	if size == 1 && len(h) >= 16 {
		size = binary.BigEndian.Uint64(h[8:16])
	}
	return size, typ
}

func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
