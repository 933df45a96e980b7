package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/reelvault/reelvault/catalog"
)

// funcs are the templates' formatting helpers. html/template escapes
// whatever they return by context; none of them returns template.HTML.
var funcs = template.FuncMap{
	"taskURL":  func(id string) string { return "/tasks/" + url.PathEscape(id) },
	"unix":     unixUTC,
	"utc":      utc,
	"utcPtr":   func(t *time.Time) string { return utcOr(t) },
	"bytes":    humanBytes,
	"seconds":  seconds,
	"dash":     dash,
	"cut":      cut,
	"res":      resolution,
	"taskSize": taskSize,
	"selected": func(a, b string) bool { return a == b },
	"kindName": kindName,
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func utcOr(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return utc(*t)
}

// unixUTC formats the gateway's Unix-second times; 0 means unknown.
func unixUTC(s int64) string {
	if s <= 0 {
		return "-"
	}
	return time.Unix(s, 0).UTC().Format("2006-01-02 15:04 UTC")
}

// relative says how far t is from now in words: "in 3h 5m", "12m ago".
func relative(now, t time.Time) string {
	d := t.Sub(now)
	if d >= 0 {
		return "in " + roughly(d)
	}
	return roughly(-d) + " ago"
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// humanBytes is n in binary units, "-" for nothing.
func humanBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return humanize.IBytes(uint64(n))
}

func seconds(d float64) string {
	if d <= 0 {
		return "-"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", d), ".0") + " s"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cut shortens s to n runes, marking the cut.
func cut(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// resolution is what the viewer gets: the super-resolution target if any.
func resolution(t catalog.Task) string {
	if t.SuperResolution != "" {
		return t.Resolution + " → " + t.SuperResolution
	}
	return dash(t.Resolution)
}

func taskSize(t catalog.Task) string {
	var n int64
	for _, a := range t.Assets {
		n += a.Size
	}
	return humanBytes(n)
}

func kindName(kind string) string {
	switch kind {
	case catalog.KindResult:
		return "Result"
	case catalog.KindOriginal:
		return "Original (before super-resolution)"
	}
	return kind
}
