// Package keytemplate parses and renders storage.key_template, the folder
// that holds one task's objects (result.mp4, original.mp4, task.json) under
// the storage prefix.
//
// A template is slash-separated segments of letters, digits, ".", "_", "-"
// and the placeholders {year}, {month}, {day} (the task's finish day, UTC),
// {action} and {task_id}. Parse accepts only templates whose folders can
// neither escape the prefix nor collide: {task_id} must be a whole segment of
// its own, so two tasks always differ in that segment, and every placeholder
// renders to one non-empty segment part without "/", so every folder has the
// same depth and none is inside another.
package keytemplate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Default is the template of the built-in configuration.
const Default = "{year}/{month}/{day}/{task_id}"

// Placeholders are the names a template may use.
var Placeholders = []string{"year", "month", "day", "action", "task_id"}

// maxLen bounds a template; S3 keys are at most 1024 bytes.
const maxLen = 200

// Template is a parsed key template.
type Template struct {
	segments [][]part
}

// part is a literal or a placeholder name.
type part struct {
	literal, placeholder string
}

// Values are what a template is rendered from.
type Values struct {
	Time   time.Time // the task's finish time (else submit or tracked time)
	TaskID string    // already validated: [A-Za-z0-9_-]
	Action string    // sanitised when rendered; "unknown" when empty
}

// Parse checks s and returns its Template.
func Parse(s string) (*Template, error) {
	switch {
	case s == "":
		return nil, errors.New("must not be empty; the default is " + Default)
	case len(s) > maxLen:
		return nil, fmt.Errorf("must be at most %d characters", maxLen)
	case strings.HasPrefix(s, "/"):
		return nil, errors.New(`must not start with "/"`)
	case strings.HasSuffix(s, "/"):
		return nil, errors.New(`must not end with "/"`)
	}
	t := &Template{}
	taskIDs := 0
	for seg := range strings.SplitSeq(s, "/") {
		parts, err := parseSegment(seg)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			if p.placeholder == "task_id" {
				taskIDs++
				if len(parts) != 1 {
					return nil, fmt.Errorf("{task_id} must be a whole segment (e.g. \".../{task_id}\"), got %q: "+
						"beside other text two tasks could share a folder", seg)
				}
			}
		}
		t.segments = append(t.segments, parts)
	}
	if taskIDs != 1 {
		return nil, fmt.Errorf("must contain {task_id} exactly once (as a whole segment), found it %d times", taskIDs)
	}
	return t, nil
}

func parseSegment(seg string) ([]part, error) {
	switch {
	case seg == "":
		return nil, errors.New(`must not contain empty segments ("//")`)
	case seg == "." || seg == "..":
		return nil, fmt.Errorf("must not contain %q segments", seg)
	case strings.HasPrefix(seg, "."):
		return nil, fmt.Errorf("segment %q must not start with \".\" (hidden files are skipped by the fs driver)", seg)
	}
	var parts []part
	for rest := seg; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open != 0 {
			lit := rest
			if open > 0 {
				lit = rest[:open]
			}
			if !literalSafe(lit) {
				return nil, fmt.Errorf("segment %q: text may contain only letters, digits, \".\", \"_\" and \"-\"", seg)
			}
			parts = append(parts, part{literal: lit})
			rest = rest[len(lit):]
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("segment %q: unclosed \"{\"", seg)
		}
		name := rest[1:end]
		known := false
		for _, p := range Placeholders {
			known = known || p == name
		}
		if !known {
			return nil, fmt.Errorf("unknown placeholder {%s}: want one of {%s}", name, strings.Join(Placeholders, "}, {"))
		}
		parts = append(parts, part{placeholder: name})
		rest = rest[end+1:]
	}
	return parts, nil
}

func literalSafe(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Folder renders the folder of one task, without a trailing "/". It fails
// only for a task id that could not be part of a key.
func (t *Template) Folder(v Values) (string, error) {
	if v.TaskID == "" || !idSafe(v.TaskID) {
		return "", fmt.Errorf("task id %q cannot be part of an object key", v.TaskID)
	}
	day := v.Time.UTC()
	var b strings.Builder
	for i, seg := range t.segments {
		if i > 0 {
			b.WriteByte('/')
		}
		for _, p := range seg {
			switch p.placeholder {
			case "":
				b.WriteString(p.literal)
			case "year":
				fmt.Fprintf(&b, "%04d", day.Year())
			case "month":
				fmt.Fprintf(&b, "%02d", int(day.Month()))
			case "day":
				fmt.Fprintf(&b, "%02d", day.Day())
			case "action":
				b.WriteString(sanitize(v.Action))
			case "task_id":
				b.WriteString(v.TaskID)
			}
		}
	}
	return b.String(), nil
}

func idSafe(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// sanitize keeps [A-Za-z0-9_-] of a gateway-supplied value, at most 64 of
// them, and says "unknown" when nothing is left.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() < 64 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
