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
// a "prompt" field) and the parameters from a creation request body. The
// parameters are the request minus content (which may hold whole images),
// with every credential in them redacted (redactParams): they are stored
// and shown, and the gateway never needs them again. The prompt and model
// are kept as sent.
func parseCreation(body []byte, req *catalog.CreationRequest) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // seeds and sizes keep every digit
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return fmt.Errorf("request is not a JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("request is not a JSON object: data after it")
	}
	req.Model, _ = fields["model"].(string)
	if content, ok := fields["content"].([]any); ok {
		var texts []string
		for _, c := range content {
			item, _ := c.(map[string]any)
			if text, _ := item["text"].(string); item["type"] == "text" && text != "" {
				texts = append(texts, text)
			}
		}
		req.Prompt = strings.Join(texts, "\n")
	}
	if req.Prompt == "" {
		req.Prompt, _ = fields["prompt"].(string)
	}
	delete(fields, "content")
	params, err := json.Marshal(redactParams(fields))
	if err != nil {
		return fmt.Errorf("encode request parameters: %w", err)
	}
	req.Params = params
	return nil
}

// snippet is the start of a body for a log line.
func snippet(b []byte) string {
	return clip(strings.ToValidUTF8(string(b), "?"), 200)
}
