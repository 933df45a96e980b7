// Package simulator imitates the asynchronous video-generation gateway that
// reelvault polls, and the object stores its signed result URLs point to.
//
// The real gateway cannot be reached from tests or demos, so the simulator
// reproduces what reelvault depends on, byte for byte where it matters: the
// task envelope of GET /v1/video/generations/{id} through its whole life
// cycle, the legacy fail_reason copy, super-resolution tasks with two videos
// on two URL styles (TOS pre-signed and VOD auth_key), URLs that really
// expire, and the misbehaviour of the network in between (5xx, 429, HTML
// pages from proxies, truncated bodies, resets, slow bodies).
//
// Everything is derived from Config.Seed and Config.Clock: the same seed gives
// the same task ids and the same video bytes, and tests move time by hand
// instead of sleeping. Task state is computed from the clock on every request;
// the simulator runs no goroutines of its own.
package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Config configures a Server. The zero value is usable: every zero field
// takes the default documented on it.
type Config struct {
	// APIKey is the Bearer token required on /v1/ (default "sim-key").
	APIKey string
	// Clock returns the current time; nil means time.Now. Tests inject a fake
	// clock and advance it to walk tasks through their life cycle and to
	// expire signed URLs.
	Clock func() time.Time
	// Seed drives all randomness: task ids, outcomes, faults and video bytes.
	Seed int64

	// NotStartFor, QueuedFor and RunFor are how long a task stays NOT_START,
	// QUEUED and IN_PROGRESS after creation (defaults 2s, 3s and 10s: demo
	// speed, not the real 1 to 5 minutes). A negative value skips the phase.
	NotStartFor, QueuedFor, RunFor time.Duration
	// URLTTL is how long signed result URLs stay valid after the task
	// finishes (default 24h, like the real stores).
	URLTTL time.Duration

	// FailureRate is the share of tasks that end FAILURE (default 0.1; a
	// negative value means none). TaskOptions.Fail overrides it per task.
	FailureRate float64
	// SuperResolutionRate is the share of tasks created without an explicit
	// choice that are super-resolution tasks, with two videos (default 0.3; a
	// negative value means none).
	SuperResolutionRate float64
	// VideoBytes is the size of each result video (0 means 300 KiB). The
	// original video of a super-resolution task is 4/5 of it, as the
	// upstream one is smaller than the enhanced one.
	VideoBytes int64

	// Faults are the per-request misbehaviours to inject; see SetFaults.
	Faults Faults

	// PollDelay holds every task poll (GET /v1/video/generations/{id}) this
	// long before it is answered, faulty or not, so that polls of one task
	// from two clients really overlap and show in PollStats (0 means none).
	// Like Faults.SlowChunkDelay it is a real wait, not the Clock's; it ends
	// with a 503 as soon as the request's context is cancelled.
	PollDelay time.Duration

	// AccessToken is the dashboard access token GET /api/task/self takes
	// (default "sim-access-token"); UserID is the account's id it expects in
	// New-Api-User (default 1). NoTaskListing answers that route with a 404
	// page instead, as a reseller without the dashboard API does.
	AccessToken   string
	UserID        int
	NoTaskListing bool
}

// TaskOptions describe a task to create. Zero fields take defaults (model
// "doubao-seedance-2-0-260128", 720p, 16:9, 5 s); nil pointers leave the choice
// to the seeded random generator.
type TaskOptions struct {
	Model, Prompt, Resolution, Ratio string
	Duration                         int
	// SuperResolution forces the task to be, or not to be, a two-video
	// super-resolution task. When nil, a model name containing "turbo" makes
	// it one, else Config.SuperResolutionRate decides.
	SuperResolution *bool
	// Fail forces the final outcome; when nil, Config.FailureRate decides.
	Fail          *bool
	GenerateAudio bool
}

// Video describes one video a successful task produces, for tests to check
// what an archiver stored.
type Video struct {
	Kind   string // "result" (result_url) or "original" (original_result_url)
	Size   int64
	SHA256 string // lowercase hex
}

const (
	defaultAPIKey      = "sim-key"
	defaultNotStartFor = 2 * time.Second
	defaultQueuedFor   = 3 * time.Second
	defaultRunFor      = 10 * time.Second
	defaultURLTTL      = 24 * time.Hour
	defaultFailureRate = 0.1
	defaultSRRate      = 0.3
	defaultVideoBytes  = 300 << 10
)

// Server is the simulated gateway and object store. It is an http.Handler;
// serve it with httptest.NewServer or an http.Server. Its routes:
//
//	GET  /v1/video/generations/{id}  poll a task (Bearer key)
//	POST /v1/video/generations       create a task (Bearer key)
//	GET  /api/task/self              list the account's tasks (access token)
//	GET  /tos/{id}/{kind}.mp4?X-Tos-...   a video, TOS pre-signed URL style
//	GET  /vod/{id}/result.mp4?auth_key=... a video, VOD auth_key URL style
//	GET  /healthz                    "ok", no key, never faulty
//	GET  /_sim/poll-stats?window=1s  PollStats as JSON, no key, never faulty
//
// All methods are safe for concurrent use.
type Server struct {
	cfg    Config // with defaults filled in; read-only after New
	now    func() time.Time
	secret []byte // signs media URLs; derived from the seed
	mux    *http.ServeMux
	polls  pollCounter // has its own lock

	mu          sync.Mutex // guards everything below
	apiKey      string
	accessToken string
	faults      Faults
	taskRNG     *rand.Rand // creations only, so ids do not depend on traffic
	faultRNG    *rand.Rand
	tasks       map[string]*task
	order       []string
}

// New returns a Server configured by cfg.
func New(cfg Config) *Server {
	cfg = withDefaults(cfg)
	s := &Server{
		cfg:         cfg,
		now:         cfg.Clock,
		apiKey:      cfg.APIKey,
		accessToken: cfg.AccessToken,
		faults:      cfg.Faults,
		taskRNG:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7461736b)),   // "task"
		faultRNG:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6661756c74)), // "fault"
		tasks:       make(map[string]*task),
	}
	secret := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("reelvault-simulator-secret"), uint64(cfg.Seed)))
	s.secret = secret[:]

	mux := http.NewServeMux()
	mux.Handle("GET /v1/video/generations/{id}", s.countPolls(s.apiHandler(s.handleGetTask)))
	mux.Handle("POST /v1/video/generations", s.apiHandler(s.handleCreateTask))
	mux.Handle("GET /api/task/self", s.faulty(http.HandlerFunc(s.handleListTasks)))
	mux.HandleFunc("GET /tos/{id}/{file}", s.handleMedia)
	mux.HandleFunc("GET /vod/{id}/{file}", s.handleMedia)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /_sim/poll-stats", s.handlePollStats)
	s.mux = mux
	return s
}

func withDefaults(cfg Config) Config {
	if cfg.APIKey == "" {
		cfg.APIKey = defaultAPIKey
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.AccessToken == "" {
		cfg.AccessToken = defaultAccessToken
	}
	if cfg.UserID == 0 {
		cfg.UserID = defaultUserID
	}
	cfg.NotStartFor = durationOr(cfg.NotStartFor, defaultNotStartFor)
	cfg.QueuedFor = durationOr(cfg.QueuedFor, defaultQueuedFor)
	cfg.RunFor = durationOr(cfg.RunFor, defaultRunFor)
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = defaultURLTTL
	}
	cfg.FailureRate = rateOr(cfg.FailureRate, defaultFailureRate)
	cfg.SuperResolutionRate = rateOr(cfg.SuperResolutionRate, defaultSRRate)
	if cfg.VideoBytes <= 0 {
		cfg.VideoBytes = defaultVideoBytes
	}
	return cfg
}

// durationOr maps zero to def and a negative duration to "no such phase".
func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// rateOr maps zero to def and a negative rate to "never".
func rateOr(r, def float64) float64 {
	switch {
	case r == 0:
		return def
	case r < 0:
		return 0
	}
	return r
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// SetAPIKey replaces the accepted API key at run time, so tests can reject a
// key in the middle of a run. An empty key rejects every request.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// SetFaults replaces the fault probabilities at run time.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}
