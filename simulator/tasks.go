package simulator

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Task statuses as the gateway spells them.
const (
	statusNotStart   = "NOT_START"
	statusQueued     = "QUEUED"
	statusInProgress = "IN_PROGRESS"
	statusSuccess    = "SUCCESS"
	statusFailure    = "FAILURE"
)

// Video kinds, also the file names in media URLs ("result.mp4").
const (
	kindResult   = "result"
	kindOriginal = "original"
)

const (
	defaultModel   = "doubao-seedance-2-0-260128"
	defaultSRModel = "doubao-seedance-2-0-turbo-260128"
	framesPerSec   = 24
	alphanumerics  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerAlnum     = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// upstreamZone is Beijing time: Ark's cgt- ids carry local time while the
// gateway's request ids carry UTC, and a careful client must not care.
var upstreamZone = time.FixedZone("UTC+8", 8*3600)

// failureKinds are the upstream errors a failed task reports. Early ones are
// refused before the task starts (start_time stays 0, as in the vendor's
// sample); late ones fail after running.
var failureKinds = []struct {
	early         bool
	code, message string
}{
	{true, "InvalidParameter", "img_url must be set for image to video method"},
	{true, "InputTextSensitiveContentDetected", "The request failed because the input text may contain sensitive information."},
	{false, "OutputVideoSensitiveContentDetected", "The request failed because the output video may contain sensitive information."},
	{false, "InternalServiceError", "The service encountered an unexpected internal error."},
}

// task is one generation task. Its timeline is fixed at creation, so its
// state at any instant is a pure function of the clock.
type task struct {
	id, requestID, upstreamID string
	row                       int // the gateway's table row id, in creation order
	model, prompt             string
	resolution, ratio         string // what the user asked for and gets
	upstreamResolution        string // what Ark generated (lower for super-resolution)
	duration                  int
	generateAudio             bool
	superResolution           bool
	seed                      int64
	authRand                  string // rand part of the VOD auth_key

	fail       bool
	failEarly  bool
	failReason string

	created, queuedAt, startAt, finishAt time.Time

	videos []*video // result first, then original for super-resolution
}

// video is one deterministic MP4 file of a task.
type video struct {
	kind          string
	scheme        string // "tos" or "vod": which URL style serves it
	width, height int
	durationMS    int64
	size          int64
	key           [32]byte // seeds the mdat payload

	sumOnce sync.Once
	sum     string
}

// state is what a poll sees at one instant.
type state struct {
	status         string
	progress       string
	start, finish  int64  // unix seconds, 0 = not yet
	upstreamStatus string // "" while Ark has not got the task
	hasVideos      bool
}

// stateAt computes the task's phase at now.
func (t *task) stateAt(now time.Time) state {
	switch {
	case now.Before(t.queuedAt):
		return state{status: statusNotStart, progress: "0%"}
	case now.Before(t.startAt):
		return state{status: statusQueued, progress: "10%", upstreamStatus: "queued"}
	case t.fail && t.failEarly:
		return state{status: statusFailure, progress: "100%", finish: t.finishAt.Unix()}
	case now.Before(t.finishAt):
		run := t.finishAt.Sub(t.startAt)
		p := 50 + int(49*now.Sub(t.startAt)/run)
		return state{status: statusInProgress, progress: strconv.Itoa(min(p, 99)) + "%",
			start: t.startAt.Unix(), upstreamStatus: "running"}
	case t.fail:
		return state{status: statusFailure, progress: "100%", start: t.startAt.Unix(), finish: t.finishAt.Unix()}
	}
	return state{status: statusSuccess, progress: "100%", start: t.startAt.Unix(), finish: t.finishAt.Unix(),
		upstreamStatus: "succeeded", hasVideos: true}
}

// CreateTask creates a task as if it had just been submitted, and returns
// its id ("asyntask_" and 32 letters and digits).
func (s *Server) CreateTask(o TaskOptions) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rng := s.taskRNG

	t := &task{
		model:         o.Model,
		prompt:        o.Prompt,
		resolution:    cmp.Or(o.Resolution, "720p"),
		ratio:         cmp.Or(o.Ratio, "16:9"),
		duration:      o.Duration,
		generateAudio: o.GenerateAudio,
		created:       now,
		seed:          rng.Int64N(1 << 32),
		authRand:      randString(rng, lowerAlnum, 8),
		requestID:     now.UTC().Format("20060102150405") + randString(rng, "0123456789", 9) + randString(rng, alphanumerics, 8),
		upstreamID:    "cgt-" + now.In(upstreamZone).Format("20060102150405") + "-" + randString(rng, lowerAlnum, 5),
	}
	for {
		t.id = "asyntask_" + randString(rng, alphanumerics, 32)
		if _, dup := s.tasks[t.id]; !dup {
			break
		}
	}
	if t.duration <= 0 {
		t.duration = 5
	}
	switch {
	case o.SuperResolution != nil:
		t.superResolution = *o.SuperResolution
	case strings.Contains(strings.ToLower(o.Model), "turbo"):
		t.superResolution = true
	default:
		t.superResolution = rng.Float64() < s.cfg.SuperResolutionRate
	}
	if t.model == "" {
		t.model = defaultModel
		if t.superResolution {
			t.model = defaultSRModel
		}
	}
	if o.Fail != nil {
		t.fail = *o.Fail
	} else {
		t.fail = rng.Float64() < s.cfg.FailureRate
	}
	if t.fail {
		k := failureKinds[rng.IntN(len(failureKinds))]
		t.failEarly = k.early
		t.failReason = "task failed, code: " + k.code + ", message: " + k.message
	}

	t.upstreamResolution = t.resolution
	if t.superResolution {
		t.upstreamResolution = downscaled(t.resolution)
	}
	t.queuedAt = now.Add(s.cfg.NotStartFor)
	t.startAt = t.queuedAt.Add(s.cfg.QueuedFor)
	t.finishAt = t.startAt.Add(s.cfg.RunFor)
	if t.fail && t.failEarly {
		t.finishAt = t.startAt
	}
	if !t.fail {
		t.videos = s.videosFor(t)
	}
	t.row = len(s.order) + 1
	s.tasks[t.id] = t
	s.order = append(s.order, t.id)
	return t.id
}

// videosFor lays out the files of a successful task: a normal task has one
// video on a TOS URL; a super-resolution task has the enhanced result on a
// VOD URL and the smaller upstream original on a TOS URL.
func (s *Server) videosFor(t *task) []*video {
	mk := func(kind, scheme, res string, size int64) *video {
		w, h := dimensions(res, t.ratio)
		ms := int64(t.duration) * 1000
		_, size = mp4Header(w, h, ms, size) // never smaller than the boxes
		return &video{kind: kind, scheme: scheme, width: w, height: h,
			durationMS: ms, size: size, key: s.videoKey(t.id, kind)}
	}
	if !t.superResolution {
		return []*video{mk(kindResult, "tos", t.resolution, s.cfg.VideoBytes)}
	}
	return []*video{
		mk(kindResult, "vod", t.resolution, s.cfg.VideoBytes),
		mk(kindOriginal, "tos", t.upstreamResolution, s.cfg.VideoBytes*4/5),
	}
}

// videoKey derives the payload key from (Seed, task id, kind) alone, so the
// bytes do not depend on the order tasks were created or polled in.
func (s *Server) videoKey(id, kind string) [32]byte {
	b := binary.BigEndian.AppendUint64([]byte("reelvault-simulator-video\x00"), uint64(s.cfg.Seed))
	b = append(b, id...)
	b = append(b, 0)
	b = append(b, kind...)
	return sha256.Sum256(b)
}

// TaskIDs returns the ids of all tasks, in creation order.
func (s *Server) TaskIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Expected returns the final outcome of task id (whether or not it has
// finished yet): "SUCCESS" with its videos, or "FAILURE" with none. The
// checksums are computed by streaming each video once and then cached.
func (s *Server) Expected(id string) (status string, videos []Video, ok bool) {
	t := s.task(id)
	if t == nil {
		return "", nil, false
	}
	if t.fail {
		return statusFailure, nil, true
	}
	for _, v := range t.videos {
		videos = append(videos, Video{Kind: v.kind, Size: v.size, SHA256: v.sha256()})
	}
	return statusSuccess, videos, true
}

func (s *Server) task(id string) *task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasks[id]
}

// sha256 streams the video through a hash the first time it is asked for.
func (v *video) sha256() string {
	v.sumOnce.Do(func() {
		h := sha256.New()
		if _, err := io.Copy(h, newVideoReader(v)); err != nil {
			panic("simulator: generating video: " + err.Error()) // the generator never fails
		}
		v.sum = hex.EncodeToString(h.Sum(nil))
	})
	return v.sum
}

// tokens follows the formula that fits the vendor's samples:
// width x height x frames / 1024, with frames = 24 x duration + 1.
func tokens(resolution, ratio string, duration int) int64 {
	w, h := dimensions(resolution, ratio)
	return int64(w) * int64(h) * int64(framesPerSec*duration+1) / 1024
}

// dimensions maps a resolution name and an aspect ratio to pixels: the short
// side is the resolution (720p 16:9 is 1280x720, 9:16 is 720x1280). Unknown
// names fall back to 720p and 16:9, as "adaptive" ratios do upstream.
func dimensions(resolution, ratio string) (width, height int) {
	short := 720
	switch r := strings.ToLower(resolution); {
	case r == "2k":
		short = 1440
	case r == "4k":
		short = 2160
	case strings.HasSuffix(r, "p"):
		if n, err := strconv.Atoi(strings.TrimSuffix(r, "p")); err == nil && n > 0 && n <= 4320 {
			short = n
		}
	}
	rw, rh := 16, 9
	if a, b, ok := strings.Cut(ratio, ":"); ok {
		x, errX := strconv.Atoi(a)
		y, errY := strconv.Atoi(b)
		if errX == nil && errY == nil && x > 0 && y > 0 && x <= 100 && y <= 100 {
			rw, rh = x, y
		}
	}
	long := func(n, d int) int { return (short*n/d + 1) &^ 1 } // nearest even
	if rw >= rh {
		return long(rw, rh), short
	}
	return short, long(rh, rw)
}

// downscaled is the resolution a super-resolution task asks Ark for.
func downscaled(res string) string {
	if _, h := dimensions(res, "16:9"); h > 720 {
		return "720p"
	}
	return "480p"
}

func randString(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
