package simulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// envelope is the gateway's reply wrapper: {"code","message","data"}.
type envelope struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// taskReply is data of a task poll, field for field as in API.md.
// fail_reason and the times are always present (empty or 0 until known), as
// the gateway sends them; the URLs and the upstream object only when set.
type taskReply struct {
	TaskID            string        `json:"task_id"`
	Action            string        `json:"action"`
	Status            string        `json:"status"`
	ResultURL         string        `json:"result_url,omitempty"`
	OriginalResultURL string        `json:"original_result_url,omitempty"`
	FailReason        string        `json:"fail_reason"`
	SubmitTime        int64         `json:"submit_time"`
	StartTime         int64         `json:"start_time"`
	FinishTime        int64         `json:"finish_time"`
	Progress          string        `json:"progress"`
	RequestID         string        `json:"request_id"`
	Data              *upstreamTask `json:"data,omitempty"`
}

// upstreamTask is the raw Ark task the gateway passes through as data.data.
// While queued or running it has no content and no usage yet.
type upstreamTask struct {
	Content         *upstreamContent `json:"content,omitempty"`
	ID              string           `json:"id"`
	Model           string           `json:"model"`
	Duration        int              `json:"duration"`
	Ratio           string           `json:"ratio"`
	Resolution      string           `json:"resolution"`
	SuperResolution string           `json:"super_resolution,omitempty"`
	FramesPerSecond int              `json:"framespersecond"`
	GenerateAudio   bool             `json:"generate_audio"`
	Seed            int64            `json:"seed"`
	Status          string           `json:"status"`
	Usage           *upstreamUsage   `json:"usage,omitempty"`
}

type upstreamContent struct {
	VideoURL string `json:"video_url"`
}

type upstreamUsage struct {
	CompletionTokens      int64 `json:"completion_tokens"`
	TotalTokens           int64 `json:"total_tokens"`
	SuperResolutionTokens int64 `json:"super_resolution_tokens,omitempty"`
}

// apiHandler puts the network's faults and the key check in front of an
// API handler. Faults come first: they stand for the proxies and CDN in
// front of the gateway, which misbehave whatever the key.
func (s *Server) apiHandler(h http.HandlerFunc) http.Handler {
	return s.faulty(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			// The brief's shape and the new-api shape of API.md in one body,
			// so a client written against either recognises it.
			writeJSON(w, http.StatusUnauthorized, map[string]any{
				"code": "invalid_api_key", "message": "invalid api key", "data": nil,
				"error": map[string]string{"message": "invalid api key", "type": "new_api_error"},
			})
			return
		}
		h(w, r)
	}))
}

// faulty rolls the API faults in front of h.
func (s *Server) faulty(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.rollFault(false)
		if f.kind == faultTruncated {
			var buf bufferedResponse
			h.ServeHTTP(&buf, r)
			buf.writeHalf(w)
			return
		}
		if !f.writeAPI(w) {
			h.ServeHTTP(w, r)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < len("Bearer ") || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		return false
	}
	s.mu.Lock()
	key := s.apiKey
	s.mu.Unlock()
	return key != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len("Bearer "):])), []byte(key)) == 1
}

// handleGetTask answers GET /v1/video/generations/{id}.
func (s *Server) handleGetTask(w http.ResponseWriter, r *http.Request) {
	t := s.task(r.PathValue("id"))
	if t == nil {
		writeJSON(w, http.StatusBadRequest, envelope{Code: "task_not_exist", Message: "task_not_exist"})
		return
	}
	st := t.stateAt(s.now())
	reply := taskReply{
		TaskID:     t.id,
		Action:     "generate",
		Status:     st.status,
		SubmitTime: t.created.Unix(),
		StartTime:  st.start,
		FinishTime: st.finish,
		Progress:   st.progress,
		RequestID:  t.requestID,
	}
	if st.status == statusFailure {
		reply.FailReason = t.failReason
	}
	if st.upstreamStatus != "" {
		up := &upstreamTask{
			ID: t.upstreamID, Model: t.model, Duration: t.duration, Ratio: t.ratio,
			Resolution: t.upstreamResolution, FramesPerSecond: framesPerSec,
			GenerateAudio: t.generateAudio, Seed: t.seed, Status: st.upstreamStatus,
		}
		if t.superResolution {
			up.SuperResolution = t.resolution
		}
		reply.Data = up
	}
	if st.hasVideos {
		host := r.Host
		if host == "" {
			host = "localhost"
		}
		reply.ResultURL = s.mediaURL(host, t, t.videos[0])
		reply.FailReason = reply.ResultURL // the legacy copy, not an error
		reply.Data.Content = &upstreamContent{VideoURL: reply.ResultURL}
		n := tokens(t.upstreamResolution, t.ratio, t.duration)
		reply.Data.Usage = &upstreamUsage{CompletionTokens: n, TotalTokens: n}
		if t.superResolution {
			reply.OriginalResultURL = s.mediaURL(host, t, t.videos[1])
			reply.Data.Content.VideoURL = reply.OriginalResultURL
			reply.Data.Usage.SuperResolutionTokens = tokens(t.resolution, t.ratio, t.duration)
		}
	}
	writeJSON(w, http.StatusOK, envelope{Code: "success", Data: reply})
}

// createRequest is the subset of the gateway's creation body the simulator
// reads; unknown fields are ignored, as the gateway forwards them upstream.
type createRequest struct {
	Model   string `json:"model"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Resolution      string          `json:"resolution"`
	Ratio           string          `json:"ratio"`
	Duration        int             `json:"duration"`
	GenerateAudio   bool            `json:"generate_audio"`
	SuperResolution json.RawMessage `json:"super_resolution"`
}

// handleCreateTask answers POST /v1/video/generations.
func (s *Server) handleCreateTask(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, envelope{Code: "invalid_request", Message: "invalid request body: " + err.Error()})
		return
	}
	o := TaskOptions{Model: req.Model, Resolution: req.Resolution, Ratio: req.Ratio,
		Duration: req.Duration, GenerateAudio: req.GenerateAudio}
	for _, c := range req.Content {
		if c.Type == "text" {
			o.Prompt = c.Text
			break
		}
	}
	sr := strings.Contains(strings.ToLower(req.Model), "turbo")
	switch string(bytes.TrimSpace(req.SuperResolution)) {
	case "", "null", "false", `""`:
	default:
		sr = true
	}
	o.SuperResolution = &sr
	id := s.CreateTask(o)
	writeJSON(w, http.StatusOK, envelope{Code: "success", Data: map[string]string{"task_id": id}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// bufferedResponse holds a whole reply so a fault can cut it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header {
	if b.header == nil {
		b.header = make(http.Header)
	}
	return b.header
}

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// writeHalf sends the first half of the buffered body as a complete HTTP
// reply: the transport is clean and only the JSON is cut, as when a proxy
// mangles a body.
func (b *bufferedResponse) writeHalf(w http.ResponseWriter) {
	half := b.body.Bytes()[:b.body.Len()/2]
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(half)))
	w.WriteHeader(b.status)
	_, _ = w.Write(half)
}
