package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
)

// Stored JSON documents (the gateway's last reply, the creation request)
// come from outside and may be hostile: a 54 KB reply of 9,000 nested
// objects, indented two spaces a level, is 162 MB of HTML. Catalogs written
// before the archiver capped what it keeps hold such rows, so the task page
// bounds what it shows itself, whatever is stored.

// maxShownJSON bounds the text shown of one document. HTML escaping can
// grow it up to fivefold (a quote is &#34;), which bounds the page too.
const maxShownJSON = 64 << 10

// maxIndentDepth is the deepest document that is pretty-printed; deeper
// ones are shown as stored, since indentation grows with depth times lines.
const maxIndentDepth = 32

// shownJSON is a document as the page shows it. Note says what was left
// out or left as stored, "" when it is shown whole and indented.
type shownJSON struct {
	Text string
	Note string
}

// showJSON prepares raw for the page; nil for nothing stored.
func showJSON(raw []byte) *shownJSON {
	if len(raw) == 0 {
		return nil
	}
	deep := jsonDepth(raw, maxIndentDepth) > maxIndentDepth
	if !deep && len(raw) <= maxShownJSON {
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") == nil {
			if b.Len() <= maxShownJSON {
				return &shownJSON{Text: b.String()}
			}
			return &shownJSON{Text: cutUTF8(b.Bytes(), maxShownJSON),
				Note: fmt.Sprintf("truncated: the first %s of it indented; %s stored", size(maxShownJSON), size(len(raw)))}
		}
	}
	s := &shownJSON{Text: cutUTF8(raw, maxShownJSON)}
	switch {
	case len(raw) > maxShownJSON:
		s.Note = fmt.Sprintf("truncated: the first %s of %s stored, as stored", size(maxShownJSON), size(len(raw)))
	case deep:
		s.Note = fmt.Sprintf("as stored, not indented: nested deeper than %d levels", maxIndentDepth)
	}
	return s
}

// jsonDepth is the nesting depth of the JSON document b, counting only
// brackets outside strings; it stops counting once past limit.
func jsonDepth(b []byte, limit int) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// cutUTF8 is b cut to at most n bytes on a character boundary.
func cutUTF8(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}

func size(n int) string { return humanize.IBytes(uint64(n)) }
