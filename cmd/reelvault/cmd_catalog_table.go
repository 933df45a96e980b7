package main

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
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

// modelWidth is the width of the table's MODEL column.
const modelWidth = 15

// writeTable prints one aligned line per task, at most tableWidth columns
// wide: ids and models are shortened (catalog show takes any unique id
// prefix; different models stay different, see shortNames), sizes and
// durations are human-readable. The rows are held until the models are
// known (the aligned table was held in full anyway, by the tabwriter).
func writeTable(w io.Writer, tasks iter.Seq2[catalog.Task, error]) error {
	type row struct {
		cells [8]string
	}
	var rows []row
	models := map[string]bool{}
	var err error
	for t, terr := range tasks {
		if terr != nil {
			err = terr
			break
		}
		var size int64
		for _, a := range t.Assets {
			size += a.Size
		}
		res := t.Resolution
		if t.SuperResolution != "" {
			res = t.SuperResolution
		}
		models[dash(t.Model)] = true
		rows = append(rows, row{[8]string{ellipsis(t.TaskID, 16), ellipsis(t.Status, 11), dash(t.ArchiveState),
			dash(t.Model), ellipsis(dash(res), 5), seconds(t.Duration), shortBytes(size), unixMinute(t.FinishTime)}})
	}
	short := shortNames(slices.Collect(maps.Keys(models)), modelWidth)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK_ID\tSTATUS\tARCHIVE\tMODEL\tRES\tDUR\tSIZE\tFINISHED")
	for _, r := range rows {
		r.cells[3] = short[r.cells[3]]
		fmt.Fprintln(tw, strings.Join(r.cells[:], "\t"))
	}
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	return err
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

// shortNames maps each of names to a form at most n runes long that no
// other of names shares, so that two models shown in one table never look
// alike (doubao-seedance-2-0-260128 and doubao-seedance-2-0-turbo-260128
// were both "doubao-…-260128"). A longer name keeps its head and tail
// around an ellipsis, where model names differ: halves alike when that cut
// is unique among names; else, of the cuts that are unique, the one whose
// tail starts at a word (after "-", "_", ".", ...) and is longest, as
// variants and dates sit at the end of model names. Two names alike in all of their
// first and last n-1 runes cannot be told apart in n columns; they keep the
// middle cut.
func shortNames(names []string, n int) map[string]string {
	long := [][]rune{}
	short := make(map[string]string, len(names))
	for _, name := range names {
		if short[name] = name; utf8.RuneCountInString(name) > n {
			long = append(long, []rune(name))
		}
	}
	for i, s := range long {
		// unique reports whether no other long name starts with the first
		// head runes of s and ends with the rest of its n-1: only such a
		// name can be shortened to what this cut of s gives (a name of at
		// most n runes is shown whole, without an ellipsis).
		unique := func(head int) bool {
			pre, suf := s[:head], s[len(s)-(n-1-head):]
			for j, t := range long {
				if j != i && slices.Equal(t[:len(pre)], pre) && slices.Equal(t[len(t)-len(suf):], suf) {
					return false
				}
			}
			return true
		}
		head := cutAt(s, n, unique)
		short[string(s)] = string(s[:head]) + "…" + string(s[len(s)-(n-1-head):])
	}
	return short
}

// cutAt chooses how many runes of s go before the ellipsis when s is
// shortened to n runes: the middle when unique says that cut is unique,
// else the unique cut with the longest tail starting at a word, else the
// unique cut with the longest tail, else the middle.
func cutAt(s []rune, n int, unique func(head int) bool) int {
	mid := (n - 1) / 2
	if unique(mid) {
		return mid
	}
	fallback := mid
	found := false
	for head := 0; head < n; head++ { // longest tail first
		if !unique(head) {
			continue
		}
		if tail := n - 1 - head; tail > 0 && isWordBreak(s[len(s)-tail-1]) {
			return head
		}
		if !found {
			fallback, found = head, true
		}
	}
	return fallback
}

// isWordBreak reports whether r separates the words of a model name.
func isWordBreak(r rune) bool {
	return strings.ContainsRune("-_. /:", r)
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
