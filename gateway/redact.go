package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Result URLs are bearer credentials: anyone holding one can download the
// video until it expires. Everything this package puts in a log, an error or
// a stored reply passes through the functions below first.

// safeParam reports whether a query parameter's value only says when a URL
// was signed and for how long (or how to play it), and nothing that lets
// anyone use it. Such values stay readable so an operator can see from a log
// why a download was refused.
func safeParam(name string) bool {
	switch strings.ToLower(name) {
	case "x-tos-date", "x-tos-expires", "x-tos-algorithm",
		"x-amz-date", "x-amz-expires", "x-amz-algorithm",
		"x-oss-date", "x-oss-expires", "x-goog-date", "x-goog-expires",
		"expires", "preview":
		return true
	}
	return false
}

// RedactURL keeps scheme, host, path and query parameter names, and replaces
// secret values with "REDACTED". Values stay only for the safe list (dates,
// lifetimes, algorithms, preview); signatures, credentials, auth_key and
// tokens go. Userinfo and the fragment are dropped, since either can hold a
// credential. The query is rebuilt, so the result is for reading only and is
// never a working URL. Input that is not an absolute URL with a host yields
// "REDACTED-URL" (nothing is shown of what we cannot take apart), and ""
// stays "" so an absent URL does not look like a hidden one.
func RedactURL(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Opaque != "" || u.Scheme == "" || u.Host == "" {
		return "REDACTED-URL"
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = redactQuery(u.RawQuery)
	return u.String()
}

// redactQuery rewrites a raw query as name=value pairs with unsafe values
// replaced. Names are kept (re-escaped) because they tell which signing
// scheme made the URL; a name that does not decode is itself replaced.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var parts []string
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		rawName, rawValue, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			parts = append(parts, "REDACTED=REDACTED")
			continue
		}
		out := url.QueryEscape(name)
		if hasValue {
			value := "REDACTED"
			if safeParam(name) {
				if v, err := url.QueryUnescape(rawValue); err == nil {
					value = url.QueryEscape(v)
				}
			}
			out += "=" + value
		}
		parts = append(parts, out)
	}
	return strings.Join(parts, "&")
}

// redactText redacts the secrets in free text (an error message, a
// fail_reason, a proxy page) in two passes. First every embedded http(s) URL
// with a query, userinfo or fragment goes through RedactURL; a URL runs to the
// next space, control character, double quote, backquote or angle bracket
// (none may appear unescaped in a URL), and being greedy past other
// punctuation only ever redacts more. Then any name=value left whose name
// looks like a credential (sig, token, auth, key, ...) is masked, which
// catches a query cut off from its URL: by a space a sloppy gateway left
// unescaped, or by the cut of a snippet.
func redactText(s string) string {
	return maskSecretParams(redactURLs(s))
}

func redactURLs(s string) string {
	var b strings.Builder
	rest := s
	for {
		i := indexHTTP(rest)
		if i < 0 {
			if b.Len() == 0 {
				return s
			}
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		rest = rest[i:]
		end := strings.IndexFunc(rest, endsURL)
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		if strings.ContainsAny(tok, "?#@") {
			tok = RedactURL(tok)
		}
		b.WriteString(tok)
		rest = rest[end:]
	}
}

// maskSecretParams replaces the value of every name=value whose name looks
// like a credential with REDACTED. A value runs to the next '&', space,
// control character, quote or angle bracket.
func maskSecretParams(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		j := i
		for j > 0 && isNameByte(s[j-1]) {
			j--
		}
		if j == i || !secretName(s[j:i]) {
			continue
		}
		end := i + 1 // scanned only after a match, so the whole pass stays linear
		for end < len(s) && !endsValue(s[end]) {
			end++
		}
		if end == i+1 {
			continue // empty value: nothing to hide
		}
		b.WriteString(s[last : i+1])
		b.WriteString("REDACTED")
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

func endsValue(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '&' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`'
}

// secretName reports whether a parameter name looks like it carries a
// credential. None of the safe parameters matches.
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range [...]string{"sig", "token", "auth", "key", "credential", "policy", "secret", "pass", "session"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// indexHTTP finds "http://" or "https://" in s, in any letter case.
func indexHTTP(s string) int {
	for i := 0; i+7 <= len(s); i++ {
		if s[i] != 'h' && s[i] != 'H' {
			continue
		}
		if hasPrefixFold(s[i:], "http://") || hasPrefixFold(s[i:], "https://") {
			return i
		}
	}
	return -1
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func endsURL(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("\"<>`", r)
}

// RedactReply returns the raw JSON reply with every signed URL in it redacted
// (result_url, original_result_url, fail_reason when it is a URL,
// data.content.video_url, and any other string value that is an http(s) URL
// with a query), so the reply can be logged and stored next to the video.
// Every string value and object key is scanned, including URLs inside longer
// text. Key order and numbers are kept as sent; whitespace is not.
//
// What it returns is bounded, since it is what gets stored and shown
// indented: containers nested deeper than 32 levels are replaced by a string
// saying so, and a reply over 64 KiB as indented JSON is replaced by
// {"_reelvault_truncated":true,"bytes":N,"head":"..."} quoting its first
// 4 KiB, redacted.
//
// Output is valid JSON. Input that is not JSON yields a JSON string literal
// saying so with its length, never the input, which may be a page quoting a
// signed URL.
func RedactReply(raw []byte) []byte {
	body := trimBOM(raw)
	if !json.Valid(body) {
		return notJSON(raw)
	}
	if plainReply(body) {
		// Nothing to redact: Compact gives the bytes rewrite would.
		var out bytes.Buffer
		if err := json.Compact(&out, body); err == nil {
			if depth, size := measure(out.Bytes()); depth <= maxKeptDepth {
				return capKept(out.Bytes(), size, len(raw), redactText)
			}
		}
	}
	out, _, err := rewrite(body, redactValue)
	if err != nil {
		return notJSON(raw)
	}
	_, size := measure(out)
	return capKept(out, size, len(raw), redactText)
}

// capKept returns b, or its truncated form when b, indented, would be over
// maxKeptBytes. size is b's indented size, n the length of the reply b
// came from.
func capKept(b []byte, size, n int, fn func(string) string) []byte {
	if size <= maxKeptBytes {
		return b
	}
	return truncated(b, n, fn)
}

// RedactText redacts the secrets in free text from the gateway, such as a
// fail_reason or an error message, as RedactReply does each string of a
// reply: a text that starts with an http(s) URL is redacted as a URL whole,
// so a sloppy unescaped space cannot split its query off; in other text,
// every embedded URL is redacted, and so is every name=value whose name
// looks like a credential (auth_key, X-Tos-Signature, token, ...). Dates and
// lifetimes (X-Tos-Date, X-Tos-Expires, Expires) stay readable.
func RedactText(s string) string { return redactValue(s) }

// redactValue redacts one JSON string. A value that starts with an http(s)
// URL is redacted as a URL whole, so a sloppy result_url with an unescaped
// space cannot split its query off; other values are scanned as text.
func redactValue(v string) string {
	t := strings.TrimSpace(v)
	if (hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://")) && strings.ContainsAny(t, "?#@") {
		return maskSecretParams(RedactURL(t))
	}
	return redactText(v)
}

func notJSON(raw []byte) []byte {
	return fmt.Appendf(nil, `"reply is not JSON (%d bytes)"`, len(raw))
}

// plainReply reports whether a reply cannot hold anything RedactReply
// changes besides whitespace: printable ASCII without escapes (so no
// string hides a URL behind \u sequences), no "http" in any case and no '='
// (no URL, no name=value secret). An IN_PROGRESS reply is one.
func plainReply(b []byte) bool {
	for i, c := range b {
		switch {
		case c >= 0x80, c == '\\', c == '=':
			return false
		case (c == 'h' || c == 'H') && i+4 <= len(b) && strings.EqualFold(string(b[i:i+4]), "http"):
			return false
		}
	}
	return true
}
