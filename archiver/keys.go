package archiver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/reelvault/reelvault/archiver/keytemplate"
	"github.com/reelvault/reelvault/catalog"
)

var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidTaskID reports whether id may be tracked. Only ids of this shape can
// become part of an object key, so no id can escape the key prefix.
func ValidTaskID(id string) bool { return taskIDPattern.MatchString(id) }

// objectDate is the day a task's objects are filed under: its finish time,
// else its submit time, else when it was tracked. Each is stable across
// restarts, so a retried upload always lands on the same key.
func objectDate(t catalog.Task) time.Time {
	switch {
	case t.FinishTime > 0:
		return time.Unix(t.FinishTime, 0).UTC()
	case t.SubmitTime > 0:
		return time.Unix(t.SubmitTime, 0).UTC()
	default:
		return t.TrackedAt.UTC()
	}
}

// taskDir is prefix + the key template rendered for t + "/".
func taskDir(prefix, template string, t catalog.Task) (string, error) {
	if !ValidTaskID(t.TaskID) {
		return "", fmt.Errorf("task id %q cannot be part of an object key", t.TaskID)
	}
	if template == "" {
		template = keytemplate.Default
	}
	tmpl, err := keytemplate.Parse(template)
	if err != nil {
		return "", fmt.Errorf("storage.key_template %q: %w", template, err)
	}
	folder, err := tmpl.Folder(keytemplate.Values{Time: objectDate(t), TaskID: t.TaskID, Action: t.Action})
	if err != nil {
		return "", err
	}
	return prefix + folder + "/", nil
}

// videoKey is where a task's video of the given kind is stored.
func videoKey(prefix, template string, t catalog.Task, kind string) (string, error) {
	dir, err := taskDir(prefix, template, t)
	if err != nil {
		return "", err
	}
	return dir + kind + ".mp4", nil
}

// sidecarKey is where a task's task.json is stored.
func sidecarKey(prefix, template string, t catalog.Task) (string, error) {
	dir, err := taskDir(prefix, template, t)
	if err != nil {
		return "", err
	}
	return dir + "task.json", nil
}

// headerSafe keeps printable ASCII only and caps the length: gateway values
// (model, resolution) become HTTP headers, and a hostile one must not inject
// a header or break the request.
func headerSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			b.WriteRune(r)
		}
		if b.Len() >= 128 {
			break
		}
	}
	return b.String()
}

// videoMetadata is the user metadata stored with a video, readable in any S3
// console.
func videoMetadata(t catalog.Task, kind string) map[string]string {
	m := map[string]string{
		"task-id": t.TaskID,
		"kind":    kind,
	}
	add := func(k, v string) {
		if v = headerSafe(v); v != "" {
			m[k] = v
		}
	}
	add("model", t.Model)
	add("ratio", t.Ratio)
	add("resolution", t.Resolution)
	add("super-resolution", t.SuperResolution)
	if t.Duration > 0 {
		add("duration", strconv.FormatFloat(t.Duration, 'f', -1, 64))
	}
	if t.Seed != 0 {
		add("seed", strconv.FormatInt(t.Seed, 10))
	}
	return m
}

// contentDisposition names the file a browser saves: date, task id,
// resolution and kind, so a download from a console reads well.
func contentDisposition(t catalog.Task, kind string) string {
	res := t.SuperResolution
	if res == "" {
		res = t.Resolution
	}
	name := objectDate(t).Format("2006-01-02") + "_" + t.TaskID
	if r := keySafe(res); r != "" {
		name += "_" + r
	}
	return `inline; filename="` + name + "_" + kind + `.mp4"`
}

// keySafe keeps [A-Za-z0-9_-] only.
func keySafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MaxTags is S3's limit of tags per object.
const MaxTags = 10

// videoTags are the object tags of a video, for lifecycle rules and console
// filters. Values keep only what S3 accepts in a tag value (letters, digits,
// spaces and + - = . _ : / @; versitygw and AWS refuse '&' and the like), at
// most 256 of them; empty values are left out.
func videoTags(t catalog.Task, kind string) map[string]string {
	tags := map[string]string{"kind": kind, "archived-by": "reelvault"}
	for k, v := range map[string]string{
		"model": t.Model, "resolution": t.Resolution, "super_resolution": t.SuperResolution, "action": t.Action,
	} {
		if v = tagSafe(v); v != "" {
			tags[k] = v
		}
	}
	return tags
}

func tagSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() < 256 && r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune(" +-=._:/@", r)) {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}
