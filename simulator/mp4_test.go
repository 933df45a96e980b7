package simulator

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// mp4Box is one parsed ISO BMFF box.
type mp4Box struct {
	typ     string
	payload []byte
}

// walkBoxes parses the boxes laid end to end in b, the way a player does.
func walkBoxes(tb testing.TB, b []byte) []mp4Box {
	tb.Helper()
	var boxes []mp4Box
	for len(b) > 0 {
		if len(b) < 8 {
			tb.Fatalf("%d stray bytes after the last box", len(b))
		}
		size, header := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		if size == 1 {
			size, header = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < header || size > uint64(len(b)) {
			tb.Fatalf("box %q claims %d bytes, %d left", b[4:8], size, len(b))
		}
		boxes = append(boxes, mp4Box{typ: string(b[4:8]), payload: b[header:size]})
		b = b[size:]
	}
	return boxes
}

// child returns the payload of the box at path (e.g. "moov", "trak", "tkhd").
func child(tb testing.TB, b []byte, path ...string) []byte {
	tb.Helper()
	for _, typ := range path {
		var found []byte
		for _, bx := range walkBoxes(tb, b) {
			if bx.typ == typ {
				found = bx.payload
				break
			}
		}
		if found == nil {
			tb.Fatalf("no %q box on path %v", typ, path)
		}
		b = found
	}
	return b
}

// mp4Facts are what an archiver can read from a file to cross-check it.
type mp4Facts struct {
	brand                string
	timescale, duration  uint32
	width, height        uint32
	handler              string
	topLevel             []string
	mdatPayload, fileLen int
}

func parseMP4(tb testing.TB, b []byte) mp4Facts {
	tb.Helper()
	var f mp4Facts
	for _, bx := range walkBoxes(tb, b) {
		f.topLevel = append(f.topLevel, bx.typ)
		if bx.typ == "mdat" {
			f.mdatPayload = len(bx.payload)
		}
	}
	f.fileLen = len(b)
	f.brand = string(child(tb, b, "ftyp")[:4])
	mvhd := child(tb, b, "moov", "mvhd") // version 0: flags, 2 times, then timescale and duration
	f.timescale, f.duration = binary.BigEndian.Uint32(mvhd[12:]), binary.BigEndian.Uint32(mvhd[16:])
	tkhd := child(tb, b, "moov", "trak", "tkhd") // version 0: width, height last, 16.16
	f.width, f.height = binary.BigEndian.Uint32(tkhd[len(tkhd)-8:])>>16, binary.BigEndian.Uint32(tkhd[len(tkhd)-4:])>>16
	hdlr := child(tb, b, "moov", "trak", "mdia", "hdlr")
	f.handler = string(hdlr[8:12])
	child(tb, b, "moov", "trak", "mdia", "mdhd")
	child(tb, b, "moov", "trak", "mdia", "minf", "stbl", "stsd")
	return f
}

func TestMP4Boxes(t *testing.T) {
	tests := []struct {
		resolution, ratio string
		duration          int
		size              int64
		width, height     uint32
	}{
		{"720p", "16:9", 5, 64 << 10, 1280, 720},
		{"1080p", "9:16", 10, 100 << 10, 1080, 1920},
		{"480p", "4:3", 4, 50 << 10, 640, 480},
		{"480p", "16:9", 15, 1 << 20, 854, 480},
		{"720p", "1:1", 6, 10, 720, 720}, // too small: the smallest valid file
		{"2k", "21:9", 12, 300 << 10, 3360, 1440},
		{"weird", "adaptive", 5, 4096, 1280, 720},
	}
	for _, tt := range tests {
		t.Run(tt.resolution+"_"+tt.ratio, func(t *testing.T) {
			w, h := dimensions(tt.resolution, tt.ratio)
			ms := int64(tt.duration) * 1000
			_, size := mp4Header(w, h, ms, tt.size)
			v := &video{width: w, height: h, durationMS: ms, size: size, key: [32]byte{1}}
			b, err := io.ReadAll(newVideoReader(v))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != size || (tt.size > 1024 && size != tt.size) {
				t.Fatalf("file is %d bytes, size %d, asked %d", len(b), size, tt.size)
			}
			f := parseMP4(t, b)
			want := mp4Facts{brand: "isom", timescale: 1000, duration: uint32(ms), width: tt.width, height: tt.height,
				handler: "vide", topLevel: []string{"ftyp", "moov", "mdat"}, mdatPayload: f.mdatPayload, fileLen: int(size)}
			if f.brand != want.brand || f.timescale != want.timescale || f.duration != want.duration ||
				f.width != want.width || f.height != want.height || f.handler != want.handler ||
				len(f.topLevel) != 3 || f.topLevel[2] != "mdat" {
				t.Errorf("got %+v\nwant %+v", f, want)
			}
		})
	}
}

// TestMP4LargeSize checks the header of a file too big for a 32-bit mdat.
func TestMP4LargeSize(t *testing.T) {
	const size = 5 << 30
	header, got := mp4Header(1920, 1080, 5000, size)
	if got != size {
		t.Fatalf("size %d, want %d", got, size)
	}
	mdat := header[len(header)-16:]
	if binary.BigEndian.Uint32(mdat) != 1 || string(mdat[4:8]) != "mdat" ||
		binary.BigEndian.Uint64(mdat[8:]) != uint64(size-len(header)+16) {
		t.Errorf("mdat header % x", mdat)
	}
	walkBoxes(t, header[:len(header)-16]) // ftyp and moov parse on their own
}

func TestVideoReaderSeek(t *testing.T) {
	v := &video{width: 1280, height: 720, durationMS: 5000, size: 10000, key: [32]byte{7}}
	full, err := io.ReadAll(newVideoReader(v))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := mp4Header(v.width, v.height, v.durationMS, v.size)
	for _, off := range []int64{0, 1, 15, 16, 17, int64(len(hdr)) - 1, int64(len(hdr)), int64(len(hdr)) + 5, 4095, 9999, 10000} {
		r := newVideoReader(v)
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(r, 777))
		if err != nil {
			t.Fatal(err)
		}
		if want := full[off:min(off+777, int64(len(full)))]; !bytes.Equal(got, want) {
			t.Errorf("at offset %d: bytes differ from a full read", off)
		}
	}
	if n, _ := newVideoReader(v).Seek(0, io.SeekEnd); n != 10000 {
		t.Errorf("SeekEnd = %d", n)
	}
}
