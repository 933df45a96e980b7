package mp4

import (
	"math"
	"testing"

	"github.com/reelvault/reelvault/simulator"
)

// Run with: go test -run='^$' -fuzz=FuzzProbe -fuzztime=30s ./mp4/

// FuzzProbe feeds arbitrary bytes in arbitrary pieces: the probe must not
// panic, must give the same answer however the bytes are split, and must
// answer either a sane Info or an ErrNotMP4.
func FuzzProbe(f *testing.F) {
	ftyp := box("ftyp", []byte("isom"), u32(0))
	good := moov(mvhd0(1000, 5000), trak(tkhd0(1280, 720)))
	for _, seed := range [][]byte{
		cat(ftyp, good, box("mdat", make([]byte, 64))),
		cat(ftyp, box("mdat", make([]byte, 64)), good),
		cat(ftyp, moov(mvhd1(90000, 675000), trak(tkhd1(1920, 1080))), largeMdat(32)),
		cat(ftyp, good, sizeZero("mdat", 40)),
		cat(ftyp, sizeZero("moov", 0, good[8:]...)),
		cat(ftyp, moov(append(u32(500), "mvhd"...))),
		[]byte("\x00\x00\x00\x01mdat\xff\xff\xff\xff\xff\xff\xff\xff"),
		[]byte("<html><body>Access Denied</body></html>"),
		{},
	} {
		f.Add(seed, uint16(0))
		f.Add(seed, uint16(3))
	}
	f.Add(simVideo(f, simulator.TaskOptions{Resolution: "1080p", Ratio: "9:16"}), uint16(4096))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		whole, errWhole := probe(data, 0)
		split, errSplit := probe(data, int(chunk))
		if whole != split || (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("whole: %+v, %v; in %d-byte writes: %+v, %v", whole, errWhole, chunk, split, errSplit)
		}
		if errWhole != nil {
			if whole != (Info{}) {
				t.Fatalf("error %v with info %+v", errWhole, whole)
			}
			return
		}
		if math.IsNaN(whole.Duration) || math.IsInf(whole.Duration, 0) || whole.Duration < 0 ||
			whole.Width < 0 || whole.Height < 0 || whole.Width > 65535 || whole.Height > 65535 {
			t.Fatalf("insane info %+v", whole)
		}
	})
}
