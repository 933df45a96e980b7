package mp4

import "encoding/binary"

// Builders for hand-made files, good and broken.

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func box(typ string, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(u32(uint32(8+len(body))), []byte(typ), body)
}

func fullBox(typ string, version byte, parts ...[]byte) []byte {
	return box(typ, append([][]byte{{version, 0, 0, 0}}, parts...)...)
}

// sizeZero is a box whose size field is 0: it runs to the end of the file.
// Its payload is payload, or n zero bytes.
func sizeZero(typ string, n int, payload ...byte) []byte {
	if payload == nil {
		payload = make([]byte, n)
	}
	return cat(u32(0), []byte(typ), payload)
}

// largeMdat is an mdat in the 64-bit largesize form.
func largeMdat(n int) []byte {
	return cat(u32(1), []byte("mdat"), u64(uint64(16+n)), make([]byte, n))
}

func moov(children ...[]byte) []byte { return box("moov", children...) }
func trak(children ...[]byte) []byte { return box("trak", children...) }

// movieTail is what follows the duration in mvhd: rate, volume, reserved,
// matrix, pre_defined, next_track_ID.
func movieTail() []byte { return make([]byte, 4+2+10+36+24+4) }

func mvhd0(timescale, duration uint32) []byte {
	return fullBox("mvhd", 0, u32(0), u32(0), u32(timescale), u32(duration), movieTail())
}

func mvhd1(timescale uint32, duration uint64) []byte {
	return fullBox("mvhd", 1, u64(0), u64(0), u32(timescale), u64(duration), movieTail())
}

// trackTail is what follows the duration in tkhd up to the frame size:
// reserved, layer, alternate_group, volume, reserved, matrix.
func trackTail(w, h int) []byte {
	return cat(make([]byte, 8+2+2+2+2+36), u32(uint32(w)<<16), u32(uint32(h)<<16))
}

func tkhd0(w, h int) []byte {
	return fullBox("tkhd", 0, u32(0), u32(0), u32(1), u32(0), u32(0), trackTail(w, h))
}

func tkhd1(w, h int) []byte {
	return fullBox("tkhd", 1, u64(0), u64(0), u32(1), u32(0), u64(0), trackTail(w, h))
}
