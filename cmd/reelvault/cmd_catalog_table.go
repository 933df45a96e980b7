package main

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/reelvault/reelvault/catalog"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// tableWidth is the terminal width the catalog tables are laid out for.
const tableWidth = 100

// writeTable prints one aligned line per task, at most tableWidth columns
// wide: ids and models are shortened (catalog show takes any unique id
// prefix), sizes and durations are human-readable.
func writeTable(w io.Writer, tasks iter.Seq2[catalog.Task, error]) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK_ID\tSTATUS\tARCHIVE\tMODEL\tRES\tDUR\tSIZE\tFINISHED")
	for t, err := range tasks {
		if err != nil {
			tw.Flush()
			return err
		}
		var size int64
		for _, a := range t.Assets {
			size += a.Size
		}
		res := t.Resolution
		if t.SuperResolution != "" {
			res = t.SuperResolution
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ellipsis(t.TaskID, 16), ellipsis(t.Status, 11),
			dash(t.ArchiveState), middleEllipsis(dash(t.Model), 15), ellipsis(dash(res), 5), seconds(t.Duration),
			shortBytes(size), unixMinute(t.FinishTime))
	}
	return tw.Flush()
}

func unixMinute(s int64) string {
	if s <= 0 {
		return "-"
	}
	return time.Unix(s, 0).UTC().Format("2006-01-02 15:04")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ellipsis keeps the first n-1 runes of s and an ellipsis when s is longer
// than n runes.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// middleEllipsis keeps both ends of s, where model names differ.
func middleEllipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

func seconds(d float64) string {
	if d <= 0 {
		return "-"
	}
	if d >= 1000 {
		return shortDuration(time.Duration(d * float64(time.Second)))
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", d), ".0") + "s"
}

// shortDuration is a duration like "3h25m" or "12d4h".
func shortDuration(d time.Duration) string {
	switch h := int64(d.Hours()); {
	case h >= 48:
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", h, int64(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dm%ds", int64(d.Minutes()), int64(d.Seconds())%60)
	}
}

// humanBytes is n in binary units, "-" for nothing.
func humanBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return humanize.IBytes(uint64(n))
}

// shortBytes is humanBytes in at most 8 columns: one decimal below 10 units.
func shortBytes(n int64) string {
	s := humanBytes(n)
	num, unit, ok := strings.Cut(s, " ")
	if !ok || len(num) <= 3 {
		return s
	}
	if dot := strings.IndexByte(num, '.'); dot >= 2 {
		num = num[:dot]
	}
	return num + " " + unit
}

// thousands formats n with thousands separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
