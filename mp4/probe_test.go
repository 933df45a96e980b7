package mp4

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reelvault/reelvault/simulator"
)

// simVideo returns the bytes of a video the simulator generates for a task
// made with o: the real thing reelvault archives in every other test.
func simVideo(t testing.TB, o simulator.TaskOptions) []byte {
	t.Helper()
	no := false
	o.Fail = &no
	sim := simulator.New(simulator.Config{NotStartFor: -1, QueuedFor: -1, RunFor: -1, VideoBytes: 48 << 10})
	id := sim.CreateTask(o)
	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer sim-key")
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return w
	}
	var reply struct {
		Data struct {
			ResultURL string `json:"result_url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(get("/v1/video/generations/"+id).Body.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	u := reply.Data.ResultURL
	return get(u[strings.Index(u, "/tos/"):]).Body.Bytes()
}

// probe feeds b in writes of chunk bytes (all at once when chunk is 0).
func probe(b []byte, chunk int) (Info, error) {
	var p Probe
	if chunk <= 0 {
		chunk = len(b) + 1
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		if k, err := p.Write(b[:n]); k != n || err != nil {
			return Info{}, errors.New("Write did not consume its input")
		}
		b = b[n:]
	}
	return p.Result()
}

// topBoxes splits a file into its top-level boxes (sizes known to be sane).
func topBoxes(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for len(b) >= 8 {
		n := binary.BigEndian.Uint32(b)
		out[string(b[4:8])] = b[:n]
		b = b[n:]
	}
	return out
}

func TestProbeSimulatorVideos(t *testing.T) {
	tests := []struct {
		res, ratio string
		dur        int
		want       Info
	}{
		{"720p", "16:9", 5, Info{Duration: 5, Width: 1280, Height: 720, Brand: "isom"}},
		{"1080p", "9:16", 10, Info{Duration: 10, Width: 1080, Height: 1920, Brand: "isom"}},
		{"480p", "1:1", 4, Info{Duration: 4, Width: 480, Height: 480, Brand: "isom"}},
	}
	for _, tt := range tests {
		video := simVideo(t, simulator.TaskOptions{Resolution: tt.res, Ratio: tt.ratio, Duration: tt.dur})
		for _, chunk := range []int{0, 1, 7, 4096} {
			got, err := probe(video, chunk)
			if err != nil || got != tt.want {
				t.Errorf("%s %s %ds in %d-byte writes: got %+v, %v; want %+v", tt.res, tt.ratio, tt.dur, chunk, got, err, tt.want)
			}
		}
	}
}

func TestProbeMoovAfterMdat(t *testing.T) {
	boxes := topBoxes(t, simVideo(t, simulator.TaskOptions{Resolution: "720p", Duration: 6}))
	file := cat(boxes["ftyp"], boxes["mdat"], boxes["moov"])
	got, err := probe(file, 1000)
	want := Info{Duration: 6, Width: 1280, Height: 720, Brand: "isom"}
	if err != nil || got != want {
		t.Fatalf("moov after mdat: got %+v, %v; want %+v", got, err, want)
	}
}

func TestProbeHandBuilt(t *testing.T) {
	ftyp := box("ftyp", []byte("mp42"), u32(0), []byte("mp42isom"))
	v1 := moov(mvhd1(90000, 90000*7.5), trak(tkhd1(1920, 1080)))
	tests := []struct {
		name string
		file []byte
		want Info
	}{
		{"version 1 mvhd and tkhd, largesize mdat", cat(ftyp, v1, largeMdat(1000)),
			Info{Duration: 7.5, Width: 1920, Height: 1080, Brand: "mp42"}},
		{"mdat of size 0 runs to the end", cat(ftyp, v1, sizeZero("mdat", 5000)),
			Info{Duration: 7.5, Width: 1920, Height: 1080, Brand: "mp42"}},
		{"moov of size 0 runs to the end", cat(ftyp, box("mdat", make([]byte, 300)), sizeZero("moov", len(v1)-8, v1[8:]...)),
			Info{Duration: 7.5, Width: 1920, Height: 1080, Brand: "mp42"}},
		{"audio track first, video second", cat(ftyp, moov(mvhd0(1000, 4000), trak(tkhd0(0, 0)), trak(tkhd0(720, 1280)))),
			Info{Duration: 4, Width: 720, Height: 1280, Brand: "mp42"}},
		{"no video track", cat(ftyp, moov(mvhd0(1000, 4000), trak(tkhd0(0, 0)))),
			Info{Duration: 4, Brand: "mp42"}},
		{"unknown duration", cat(ftyp, moov(mvhd0(1000, 0xffffffff), trak(tkhd0(640, 480)))),
			Info{Width: 640, Height: 480, Brand: "mp42"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 3} {
			got, err := probe(tt.file, chunk)
			if err != nil || got != tt.want {
				t.Errorf("%s (%d-byte writes): got %+v, %v; want %+v", tt.name, chunk, got, err, tt.want)
			}
		}
	}
}

func TestProbeMalformed(t *testing.T) {
	ftyp := box("ftyp", []byte("isom"), u32(0))
	good := moov(mvhd0(1000, 5000), trak(tkhd0(1280, 720)))
	tests := []struct {
		name, file string
		errHas     string
	}{
		{"empty", "", "empty file"},
		{"an HTML page", "<html><body>Access Denied</body></html>", "before the end of its \"l><b\" box"},
		{"ftyp only", string(ftyp), "no moov"},
		{"no ftyp", string(good), "no ftyp"},
		{"ends inside a header", string(ftyp) + "\x00\x00\x01", "inside a box header"},
		{"ends inside mdat", string(cat(ftyp, good, box("mdat", make([]byte, 100))[:60])), "before the end of its \"mdat\""},
		{"ends before moov", string(cat(ftyp, box("mdat", make([]byte, 100))[:60])), "before the end of its \"mdat\""},
		{"size below the header", string(ftyp) + "\x00\x00\x00\x04mdat", "declares size 4"},
		{"largesize below the header", string(ftyp) + "\x00\x00\x00\x01mdat\x00\x00\x00\x00\x00\x00\x00\x0f", "declares size 15"},
		{"largesize past int64", string(ftyp) + "\x00\x00\x00\x01mdat\xff\xff\xff\xff\xff\xff\xff\xff", "declares size"},
		{"moov over the cap", string(ftyp) + "\x7f\x00\x00\x00moov", "cap"},
		{"ftyp too short", string(box("ftyp", []byte("is"))) + string(good), "ftyp box too short"},
		{"mvhd timescale 0", string(cat(ftyp, moov(mvhd0(0, 5000)))), "timescale 0"},
		{"mvhd unknown version", string(cat(ftyp, moov(fullBox("mvhd", 7, make([]byte, 96))))), "unknown version 7"},
		{"mvhd truncated", string(cat(ftyp, moov(fullBox("mvhd", 1, make([]byte, 10))))), "truncated"},
		{"no mvhd", string(cat(ftyp, moov(trak(tkhd0(1280, 720))))), "no mvhd"},
		{"tkhd truncated", string(cat(ftyp, moov(mvhd0(1000, 5000), trak(fullBox("tkhd", 0, make([]byte, 40)))))), "tkhd: truncated"},
		{"child larger than moov", string(cat(ftyp, moov(append(u32(500), "mvhd"...)))), "declares size 500"},
		{"stray bytes in moov", string(cat(ftyp, moov(mvhd0(1000, 5000), []byte{1, 2, 3}))), "stray bytes"},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1} {
			_, err := probe([]byte(tt.file), chunk)
			if !errors.Is(err, ErrNotMP4) || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%s (%d-byte writes): err %v; want ErrNotMP4 saying %q", tt.name, chunk, err, tt.errHas)
			}
		}
	}
}

// TestProbeSkipsMdatWithoutBuffering streams a 16 MiB mdat through a Probe
// and checks that its memory stays at the few bytes of moov and ftyp.
func TestProbeSkipsMdatWithoutBuffering(t *testing.T) {
	var p Probe
	p.MaxMoov = 1 << 10
	head := cat(box("ftyp", []byte("isom"), u32(0)), append(u32(8+16<<20), "mdat"...))
	p.Write(head)
	chunk := make([]byte, 64<<10)
	for range 16 << 20 / len(chunk) {
		p.Write(chunk)
	}
	p.Write(moov(mvhd0(1000, 5000), trak(tkhd0(1280, 720))))
	got, err := p.Result()
	if err != nil || got.Width != 1280 || got.Duration != 5 {
		t.Fatalf("got %+v, %v", got, err)
	}
	if c := cap(p.buf); c > 1<<10 {
		t.Errorf("probe kept a %d byte buffer for a 16 MiB mdat; want it to skip mdat", c)
	}
}

// TestProbeResultIsRepeatable: Result does not consume the state, so a
// caller may ask twice, and a to-end box is finished the same way each time.
func TestProbeResultIsRepeatable(t *testing.T) {
	var p Probe
	io.WriteString(&p, string(cat(box("ftyp", []byte("isom"), u32(0)), sizeZero("moov", 0, moov(mvhd0(1000, 3000))[8:]...))))
	a, errA := p.Result()
	b, errB := p.Result()
	if errA != nil || a != b || errB != nil || a.Duration != 3 {
		t.Fatalf("Result twice: %+v %v, then %+v %v", a, errA, b, errB)
	}
}
