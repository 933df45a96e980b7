package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// A reply is kept (in the catalog, in task.json, on the web page) long after
// it is decoded, and it is shown indented. A 54 KB reply of 9,000 nested
// objects once became a 162 MB task.json, because every level of nesting adds
// a level of indentation to every line under it. What is kept is therefore
// bounded in depth and in its indented size; what is cut says so.
const (
	// maxKeptDepth bounds the nesting of a kept reply. A task lies four
	// levels deep (envelope, data, data.data, usage); containers deeper than
	// this are replaced by depthMarker.
	maxKeptDepth = 32
	// maxKeptBytes bounds a kept reply as json.MarshalIndent with a
	// two-space indent would write it. A task reply is about 2 KiB.
	maxKeptBytes = 64 << 10
	// headBytes is how much of an oversized reply its truncated form quotes.
	headBytes = 4 << 10
)

// depthMarker replaces a container nested deeper than maxKeptDepth.
var depthMarker = fmt.Sprintf("[truncated: nested deeper than %d levels]", maxKeptDepth)

// truncatedKey names the object that stands for a reply too big to keep.
const truncatedKey = "_reelvault_truncated"

// rewrite re-emits one valid JSON value (the caller checks json.Valid, which
// also bounds nesting at encoding/json's 10,000 levels) token by token, so
// object key order and duplicate keys survive, which a decode into
// map[string]any would lose. Every string, object keys included, passes
// through fn, and so does the text of every number: a number fn changes is
// written as the string fn returned. Strings are decoded first, so fn sees
// through escapes (\u0053 is S). Containers nested deeper than maxKeptDepth
// become depthMarker; cut reports whether any did. The output is compact.
func rewrite(raw []byte, fn func(string) string) (out []byte, cut bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	buf.Grow(len(raw))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	writeString := func(s string) error {
		if err := enc.Encode(s); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return nil
	}

	type frame struct {
		object bool
		n      int // tokens written in this container
	}
	var stack []frame
	skip := 0 // depth inside a container being dropped
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return buf.Bytes(), cut, nil
		}
		if err != nil {
			return nil, false, err
		}
		d, isDelim := tok.(json.Delim)
		if skip > 0 {
			switch {
			case isDelim && (d == '{' || d == '['):
				skip++
			case isDelim:
				skip--
			}
			continue
		}
		if isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			buf.WriteByte(byte(d))
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				buf.WriteByte(':')
			case top.n > 0:
				buf.WriteByte(',')
			}
			top.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			if len(stack) == maxKeptDepth {
				skip, cut = 1, true
				err = writeString(depthMarker)
				break
			}
			stack = append(stack, frame{object: v == '{'})
			buf.WriteByte(byte(v))
		case string:
			err = writeString(fn(v))
		case json.Number:
			if s := fn(string(v)); s != string(v) {
				err = writeString(s)
			} else {
				buf.WriteString(s)
			}
		case bool:
			buf.WriteString(strconv.FormatBool(v))
		case nil:
			buf.WriteString("null")
		default:
			err = fmt.Errorf("unexpected JSON token %T", tok)
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// measure returns the deepest nesting of containers in a valid JSON value and
// the size json.MarshalIndent(json.RawMessage(b), "", "  ") would give it
// (whitespace in b does not count). It reads bytes only, so it costs far less
// than the indenting it predicts.
func measure(b []byte) (depth, indented int) {
	level := 0
	open := false // just after '{' or '[': a close now leaves the container empty
	inString, escaped := false, false
	newline := func(level int) int { return 1 + 2*level }
	for _, c := range b {
		if inString {
			indented++
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		if open && c != '}' && c != ']' {
			indented += newline(level)
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			level++
			depth = max(depth, level)
		case '}', ']':
			level--
			if !open {
				indented += newline(level)
			}
		case ',':
			indented += newline(level)
		case ':':
			indented++ // the space after it
		}
		open = c == '{' || c == '['
		indented++
	}
	return depth, indented
}

// truncated stands in for a reply too big to keep: a small object that says
// it was cut, how many bytes the reply had, and quotes its beginning. head
// has fn applied after the cut, so a cut cannot leave half of a secret that
// fn would have recognised whole.
func truncated(b []byte, size int, fn func(string) string) []byte {
	n := min(len(b), headBytes)
	for n > 0 && n < len(b) && !utf8.RuneStart(b[n]) {
		n--
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Truncated bool   `json:"_reelvault_truncated"`
		Bytes     int    `json:"bytes"`
		Head      string `json:"head"`
	}{true, size, fn(string(b[:n]))})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// kept is a reply as the client keeps it.
type kept struct {
	// json is what is decoded and quoted in errors: the reply with the key
	// scrubbed from every string and its nesting capped; for a body that is
	// not JSON, the body with the key scrubbed from its bytes.
	json []byte
	// stored is what Task returns: json, or its truncated form.
	stored   []byte
	warnings []string
}

// keep scrubs the API key out of a reply and bounds it for keeping. The bytes
// are scrubbed, and so is every decoded string: a gateway that echoes the key
// JSON-escaped (\u0053ECRET) would pass a byte scrub and land, decoded, in
// fail_reason. Only a reply that may hide the key (it has the key or a
// backslash in it) or is nested too deep is re-encoded; any other is kept as
// sent.
func (c *Client) keep(body []byte) kept {
	b := trimBOM(body)
	if !json.Valid(b) {
		s := c.scrubBytes(body)
		return kept{json: s, stored: s}
	}
	var k kept
	echoed := false
	scrub := func(s string) string {
		r := c.scrubKey(s)
		echoed = echoed || r != s
		return r
	}
	depth, size := measure(b)
	k.json = b
	if depth > maxKeptDepth || c.mayHideKey(b) {
		out, cut, err := rewrite(b, scrub)
		if err != nil { // valid JSON always re-encodes; keep nothing that could hold the key
			s := c.scrubBytes(body)
			return kept{json: s, stored: s}
		}
		k.json = out
		_, size = measure(out)
		if cut {
			k.warnings = append(k.warnings, fmt.Sprintf("reply nested deeper than %d levels; kept cut at that depth", maxKeptDepth))
		}
	}
	if echoed {
		k.warnings = append(k.warnings, "reply quoted the API key; it is kept as REDACTED")
	}
	k.stored = capKept(k.json, size, len(body), scrub)
	if size > maxKeptBytes {
		k.warnings = append(k.warnings, fmt.Sprintf("reply of %d bytes is over %d KiB indented; kept truncated to its first %d KiB",
			len(body), maxKeptBytes>>10, headBytes>>10))
	}
	return k
}

// mayHideKey reports whether a decoded string of b could hold the key: b
// holds it as bytes, or holds an escape that could spell it.
func (c *Client) mayHideKey(b []byte) bool {
	return c.key != "" && (bytes.Contains(b, []byte(c.key)) || bytes.IndexByte(b, '\\') >= 0)
}
