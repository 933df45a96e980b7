package simulator

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// The simulated videos are real, if empty, MP4 files: an ftyp box, a moov
// box whose mvhd and tkhd carry the task's duration and frame size (what an
// archiver can cross-check against the task record), and an mdat box filled
// with pseudo-random bytes up to the configured size. They are not playable
// (the sample tables are empty) but every ISO BMFF parser, ffprobe included,
// reads them.
//
// The mdat payload is AES-256-CTR keystream under a key derived from (Seed,
// task id, kind): it is incompressible like real video, fast to produce, and
// seekable, because the keystream at any offset is computed from the block
// counter alone. That lets a 2 GiB video be served, resumed with a Range
// request, or hashed, with a few kilobytes of memory.

// mp4Header returns the bytes of a w x h, durationMS long MP4 file that
// precede the mdat payload, for a file of size bytes. The returned size is
// size, or the smallest valid file when size is too small to hold the boxes.
func mp4Header(width, height int, durationMS, size int64) ([]byte, int64) {
	prefix := append(ftypBox(), moovBox(width, height, durationMS)...)
	mdat := size - int64(len(prefix))
	if mdat <= math.MaxUint32 {
		mdat = max(mdat, 8)
		prefix = binary.BigEndian.AppendUint32(prefix, uint32(mdat))
		prefix = append(prefix, "mdat"...)
	} else { // 64-bit "largesize" form, for files of 4 GiB and more
		prefix = binary.BigEndian.AppendUint32(prefix, 1)
		prefix = append(prefix, "mdat"...)
		prefix = binary.BigEndian.AppendUint64(prefix, uint64(mdat))
	}
	return prefix, max(size, int64(len(prefix)))
}

func ftypBox() []byte {
	return box("ftyp", []byte("isom"), u32(0x200), []byte("isomiso2avc1mp41"))
}

func moovBox(width, height int, durationMS int64) []byte {
	dur := u32(uint32(min(durationMS, math.MaxUint32)))
	mvhd := fullBox("mvhd", 0, 0,
		u32(0), u32(0), // creation, modification time
		u32(1000), dur, // timescale (ms), duration
		u32(0x00010000), u16(0x0100), make([]byte, 10), // rate 1.0, volume 1.0, reserved
		unityMatrix(), make([]byte, 24), // matrix, pre_defined
		u32(2)) // next_track_ID
	tkhd := fullBox("tkhd", 0, 3, // enabled, in movie
		u32(0), u32(0), u32(1), u32(0), dur, // times, track_ID, reserved, duration
		make([]byte, 8), u16(0), u16(0), u16(0), u16(0), // reserved, layer, group, volume, reserved
		unityMatrix(), u32(uint32(width)<<16), u32(uint32(height)<<16)) // 16.16 fixed point
	mdhd := fullBox("mdhd", 0, 0, u32(0), u32(0), u32(1000), dur, u16(0x55c4), u16(0)) // language "und"
	hdlr := fullBox("hdlr", 0, 0, u32(0), []byte("vide"), make([]byte, 12), []byte("VideoHandler\x00"))
	vmhd := fullBox("vmhd", 0, 1, u16(0), make([]byte, 6))
	dinf := box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)))
	avc1 := box("avc1", make([]byte, 6), u16(1), // reserved, data_reference_index
		make([]byte, 16), u16(uint16(width)), u16(uint16(height)),
		u32(0x00480000), u32(0x00480000), u32(0), u16(1), // 72 dpi, reserved, frame_count
		make([]byte, 32), u16(0x0018), u16(0xffff)) // compressorname, depth, pre_defined
	stbl := box("stbl",
		fullBox("stsd", 0, 0, u32(1), avc1),
		fullBox("stts", 0, 0, u32(0)),
		fullBox("stsc", 0, 0, u32(0)),
		fullBox("stsz", 0, 0, u32(0), u32(0)),
		fullBox("stco", 0, 0, u32(0)))
	minf := box("minf", vmhd, dinf, stbl)
	return box("moov", mvhd, box("trak", tkhd, box("mdia", mdhd, hdlr, minf)))
}

// box serialises an ISO BMFF box: 32-bit size, 4-character type, payload.
func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(n))
	b = append(b, typ...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// fullBox is a box whose payload starts with a version byte and 24 flag bits.
func fullBox(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	return box(typ, append([][]byte{u32(uint32(version)<<24 | flags&0xffffff)}, parts...)...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func unityMatrix() []byte {
	var b []byte
	for _, v := range []uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// videoReader generates the bytes of one video on the fly. It is an
// io.ReadSeeker, so http.ServeContent can answer Range requests with it.
type videoReader struct {
	header []byte
	size   int64
	off    int64
	block  cipher.Block
	stream cipher.Stream // keystream positioned at off; nil after a seek
}

func newVideoReader(v *video) *videoReader {
	header, size := mp4Header(v.width, v.height, v.durationMS, v.size)
	block, err := aes.NewCipher(v.key[:])
	if err != nil {
		panic("simulator: " + err.Error()) // a 32-byte key is always valid
	}
	return &videoReader{header: header, size: size, block: block}
}

// Read implements io.Reader.
func (r *videoReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	if r.off < int64(len(r.header)) {
		n = copy(p, r.header[r.off:])
		r.off += int64(n)
		p = p[n:]
	}
	if rest := r.size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	if len(p) > 0 {
		if r.stream == nil {
			r.positionStream()
		}
		clear(p)
		r.stream.XORKeyStream(p, p)
		r.off += int64(len(p))
		n += len(p)
	}
	return n, nil
}

// positionStream starts the CTR keystream at the payload offset of r.off.
func (r *videoReader) positionStream() {
	pos := r.off - int64(len(r.header))
	iv := make([]byte, aes.BlockSize)
	binary.BigEndian.PutUint64(iv[8:], uint64(pos/aes.BlockSize))
	r.stream = cipher.NewCTR(r.block, iv)
	if skip := pos % aes.BlockSize; skip > 0 {
		var discard [aes.BlockSize]byte
		r.stream.XORKeyStream(discard[:skip], discard[:skip])
	}
}

var errNegativeOffset = errors.New("simulator: seek to a negative offset")

// Seek implements io.Seeker.
func (r *videoReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return r.off, errNegativeOffset
	}
	if offset != r.off {
		r.off, r.stream = offset, nil
	}
	return offset, nil
}
