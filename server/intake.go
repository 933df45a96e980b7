package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
)

// intakeRequest is the body of POST /v1/tasks. Prompt and Model are
// optional notes about the task(s), stored as if the proxy had seen the
// creation request.
type intakeRequest struct {
	TaskID  string   `json:"task_id"`
	TaskIDs []string `json:"task_ids"`
	Prompt  string   `json:"prompt"`
	Model   string   `json:"model"`
}

// IntakeReply is the answer to POST /v1/tasks: 200 when every id was
// tracked, 400 when some were rejected (the others are tracked all the same).
type IntakeReply struct {
	Tracked  []string   `json:"tracked"`  // valid ids, now tracked (new or already known)
	New      int        `json:"new"`      // how many of them were not tracked before
	Rejected []Rejected `json:"rejected"` // ids that are not task ids
	// Kept are tracked ids whose creation request was recorded before, with
	// another prompt or model than this request's: the first record stays
	// and this one's prompt and model were not applied.
	Kept  []string `json:"kept,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Rejected names one refused id and why.
type Rejected struct {
	TaskID string `json:"task_id"`
	Reason string `json:"reason"`
}

type intake struct{ opts Options }

func (h *intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Without a token, loopback is the only credential, and a page in the
	// operator's browser has it too; a JSON body is what such a page cannot
	// send cross-origin without a preflight (see trust.go). With a token a
	// page cannot authenticate at all, and curl -d stays enough.
	if h.opts.Token == "" && !jsonBody(r) {
		writeError(w, http.StatusUnsupportedMediaType, "the body must be sent as Content-Type: application/json "+
			"(curl: -H 'Content-Type: application/json'), got "+quote(r.Header.Get("Content-Type")))
		return
	}
	var req intakeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxIntakeBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes: send fewer ids per request", maxIntakeBody))
			return
		}
		writeError(w, http.StatusBadRequest, `malformed JSON body (want {"task_id":"..."} or {"task_ids":["...",...]}): `+err.Error())
		return
	}
	ids := req.TaskIDs
	if req.TaskID != "" {
		ids = append([]string{req.TaskID}, ids...)
	}
	if len(ids) == 0 {
		writeError(w, http.StatusBadRequest, `no task id given: want {"task_id":"..."} or {"task_ids":["...",...]}`)
		return
	}
	reply := IntakeReply{Tracked: []string{}, Rejected: []Rejected{}}
	for _, id := range ids {
		if archiver.ValidTaskID(id) {
			reply.Tracked = append(reply.Tracked, id)
		} else {
			reply.Rejected = append(reply.Rejected, Rejected{TaskID: clip(id, 140), Reason: "not a task id ([A-Za-z0-9_-]{1,128})"})
		}
	}
	if err := h.track(r, req, &reply); err != nil {
		h.opts.Logger.Error("intake: cannot track tasks", "err", err, "count", len(reply.Tracked))
		writeError(w, http.StatusInternalServerError, "cannot write the catalog; nothing of this request was tracked: "+err.Error())
		return
	}
	for _, id := range reply.Tracked {
		h.opts.Logger.Info("task tracked via intake", "task_id", id)
	}
	status := http.StatusOK
	if len(reply.Rejected) > 0 {
		names := make([]string, len(reply.Rejected))
		for i, rj := range reply.Rejected {
			names[i] = fmt.Sprintf("%q", rj.TaskID)
		}
		reply.Error = fmt.Sprintf("%d id(s) rejected, not task ids: %s; the %d valid one(s) are tracked",
			len(names), strings.Join(names, ", "), len(reply.Tracked))
		status = http.StatusBadRequest
	}
	writeJSON(w, status, reply)
}

// track tracks reply.Tracked, with the request's prompt and model when it
// gives them. Those are added to a task's record, never written over one
// (catalog.RecordCreation): intake is the one writer anyone on loopback can
// reach, so it may not rewrite what the proxy or an earlier intake saw.
func (h *intake) track(r *http.Request, req intakeRequest, reply *IntakeReply) error {
	ids := reply.Tracked
	if len(ids) == 0 {
		return nil
	}
	ctx, now := r.Context(), h.opts.Clock()
	if req.Prompt == "" && req.Model == "" {
		n, err := h.opts.Catalog.TrackFrom(ctx, ids, catalog.SourceIntake, now)
		reply.New = n
		if err == nil && n > 0 && h.opts.Wake != nil {
			h.opts.Wake()
		}
		return err
	}
	for _, id := range ids {
		known, err := h.opts.Catalog.Get(ctx, id)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		if err != nil {
			reply.New++
		} else if recorded(known) && (known.Prompt != req.Prompt || req.Model != "" && known.Model != req.Model) {
			reply.Kept = append(reply.Kept, id)
			h.opts.Logger.Warn("intake: task already has a recorded creation request; kept it, ignored this request's prompt and model",
				"task_id", id, "source", known.Source)
		}
		cr := catalog.CreationRequest{Model: req.Model, Prompt: req.Prompt, Source: catalog.SourceIntake}
		if err := h.opts.Catalog.RecordCreation(ctx, id, cr, now); err != nil {
			return err
		}
	}
	if h.opts.Wake != nil {
		h.opts.Wake()
	}
	return nil
}

// recorded reports whether t has a creation request on record.
func recorded(t catalog.Task) bool {
	return t.Prompt != "" || len(t.RequestParams) > 0 || t.KeyFingerprint != ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in the gateway's error shape, so clients written
// against it read reelvault's errors too.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": "reelvault: " + msg, "type": "reelvault_error"}})
}

// clip shortens s to n bytes for echoing it back or logging it.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
