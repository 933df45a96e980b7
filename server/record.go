package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
)

// recorder turns a creation exchange seen by the proxy into a tracked task.
type recorder struct{ opts Options }

// record parses the exchange and tracks the task. Nothing here changes what
// the caller receives: a reply it cannot read is only logged.
func (r *recorder) record(ctx context.Context, ex *exchange) {
	log := r.opts.Logger
	reply := ex.resp
	id, err := replyTaskID(reply, ex.encoding)
	if err != nil {
		log.Warn("proxy: cannot read a task id from the creation reply; passed through untouched (track it by hand)",
			"status", ex.status, "err", err, "reply_snippet", snippet(reply))
		return
	}
	req := catalog.CreationRequest{KeyFingerprint: KeyFingerprint(ex.authorization), Source: catalog.SourceProxy}
	body, whole := ex.req.snapshot()
	if !whole {
		log.Warn("proxy: creation request over 1 MiB; the task is tracked without its prompt", "task_id", id)
	} else if err := parseCreation(body, &req); err != nil {
		log.Warn("proxy: cannot read the creation request; the task is tracked without its prompt", "task_id", id, "err", err)
	}
	if err := r.opts.Catalog.RecordCreation(ctx, id, req, r.opts.Clock()); err != nil {
		log.Error("proxy: cannot track a task created through the proxy", "task_id", id, "err", err)
		return
	}
	if r.opts.Wake != nil {
		r.opts.Wake()
	}
	log.Info("task created through the proxy; tracked", "task_id", id, "model", req.Model,
		"key_fingerprint", req.KeyFingerprint)
}

// KeyFingerprint identifies the caller's API key without revealing it: the
// first 8 hex digits of the key's sha256. "" when no Bearer key was sent.
func KeyFingerprint(authorization string) string {
	key, ok := strings.CutPrefix(authorization, "Bearer ")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}

// replyTaskID finds the task id in a creation reply: data.task_id, else
// task_id, else id.
func replyTaskID(body []byte, encoding string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return "", fmt.Errorf("gzip reply: %w", err)
		}
		if body, err = io.ReadAll(io.LimitReader(zr, maxCapture)); err != nil {
			return "", fmt.Errorf("gzip reply: %w", err)
		}
	default:
		return "", fmt.Errorf("reply encoded as %q, which reelvault does not decode", encoding)
	}
	var v struct {
		Data *struct {
			TaskID string `json:"task_id"`
		} `json:"data"`
		TaskID string `json:"task_id"`
		ID     string `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("reply is not JSON: %w", err)
	}
	id := v.TaskID
	if v.Data != nil && v.Data.TaskID != "" {
		id = v.Data.TaskID
	} else if id == "" {
		id = v.ID
	}
	switch {
	case id == "":
		return "", errors.New("reply carries no data.task_id, task_id or id")
	case !archiver.ValidTaskID(id):
		return "", fmt.Errorf("reply's task id %q is not a task id", clip(id, 140))
	}
	return id, nil
}

// parseCreation fills the model, the prompt (the text items of content, else
// a "prompt" field) and the parameters (the request minus content, which may
// hold whole images) from a creation request body.
func parseCreation(body []byte, req *catalog.CreationRequest) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return fmt.Errorf("request is not a JSON object: %w", err)
	}
	_ = json.Unmarshal(fields["model"], &req.Model)
	var content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if raw, ok := fields["content"]; ok {
		if err := json.Unmarshal(raw, &content); err == nil {
			var texts []string
			for _, c := range content {
				if c.Type == "text" && c.Text != "" {
					texts = append(texts, c.Text)
				}
			}
			req.Prompt = strings.Join(texts, "\n")
		}
	}
	if req.Prompt == "" {
		_ = json.Unmarshal(fields["prompt"], &req.Prompt)
	}
	delete(fields, "content")
	params, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	req.Params = params
	return nil
}

// snippet is the start of a body for a log line.
func snippet(b []byte) string {
	return clip(strings.ToValidUTF8(string(b), "?"), 200)
}
