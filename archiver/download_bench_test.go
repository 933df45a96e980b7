package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/reelvault/reelvault/mp4"
	"github.com/reelvault/reelvault/storage"
)

// discardStore is a storage.Store that reads every Put body to the end and
// keeps only its size, so a benchmark measures the download side alone.
type discardStore struct{ sizes map[string]int64 }

func (d *discardStore) Put(_ context.Context, key string, r io.Reader, _ int64, _ storage.PutOptions) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	d.sizes[key] = n
	return nil
}

func (d *discardStore) Stat(_ context.Context, key string) (storage.ObjectInfo, error) {
	n, ok := d.sizes[key]
	if !ok {
		return storage.ObjectInfo{}, storage.ErrNotExist
	}
	return storage.ObjectInfo{Key: key, Size: n}, nil
}

func (d *discardStore) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, storage.ErrNotExist
}
func (d *discardStore) Delete(_ context.Context, key string) error { delete(d.sizes, key); return nil }
func (d *discardStore) List(context.Context, string, func(storage.ObjectInfo) error) error {
	return nil
}
func (d *discardStore) Location() string { return "discard://" }

// benchVideo is an MP4-looking body: an ftyp box, then random bytes.
func benchVideo(size int) []byte {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	copy(b, "\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	return b
}

// BenchmarkFetch streams a video from an in-memory origin on loopback
// through the downloader's verify path (MP4 sniff, Content-Length check,
// sha256, stall timer) into a store that discards it.
func BenchmarkFetch(b *testing.B) {
	for _, size := range []int{8 << 20, 64 << 20} {
		video := benchVideo(size)
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(video))
		}))
		b.Run(strconv.Itoa(size>>20)+"MiB", func(b *testing.B) {
			d := newDownloader(&discardStore{sizes: map[string]int64{}}, limits{stall: time.Minute}, urlPolicy{allowHTTP: true, allowPrivate: true})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				res, err := d.fetch(b.Context(), origin.URL+"/v.mp4", "k", storage.PutOptions{})
				if err != nil || res.size != int64(size) {
					b.Fatalf("fetch: %d bytes, %v", res.size, err)
				}
			}
		})
		origin.Close()
	}
}

// BenchmarkVerifier is the verifying reader alone (sha256, length, MP4
// probe), without HTTP: the floor of the verify path's cost.
func BenchmarkVerifier(b *testing.B) {
	video := benchVideo(8 << 20)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(video)))
	b.ReportAllocs()
	for b.Loop() {
		v := &verifier{r: bytes.NewReader(video), h: sha256.New(), probe: &mp4.Probe{}, want: int64(len(video)), onRead: func(int) {}}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{v}, buf); err != nil || !v.eof {
			b.Fatalf("verifier: eof %v, %v", v.eof, err)
		}
	}
}
