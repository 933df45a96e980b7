package server

import (
	"strings"
	"unicode"

	"github.com/reelvault/reelvault/gateway"
)

// Creation requests carry credentials the gateway never needed reelvault to
// keep: a callback_url with ?token=, an api_key or a signed image URL in a
// body field. request_params is stored in the catalog, written into
// task.json next to the video and shown in the web view, so what the proxy
// stores of a request is redacted first, at every depth of its JSON.

// redacted replaces the value of a field whose name says it is a credential.
const redacted = "REDACTED"

// redactParams returns v (a decoded JSON value) with secrets replaced: the
// whole value of every object member whose key names a credential
// (secretKey), and the signatures, tokens and keys inside every other string,
// object keys included (redactString). Empty values stay as they are, so a
// reader can tell "no key was sent" from "a key was hidden".
func redactParams(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			if secretKey(k) && !emptyJSON(val) {
				out[redactString(k)] = redacted
				continue
			}
			out[redactString(k)] = redactParams(val)
		}
		return out
	case []any:
		for i := range v {
			v[i] = redactParams(v[i])
		}
		return v
	case string:
		return redactString(v)
	}
	return v // numbers, booleans, null
}

func emptyJSON(v any) bool { return v == nil || v == "" }

// secretKey reports whether an object key names a credential. Keys are
// compared lower-cased without '-', '_', '.' and spaces, so api_key, apiKey,
// X-Api-Key and "api key" are one name. It matches whole names and
// suffixes, not any key containing "key" or "token": keyframes, monkey and
// max_tokens are parameters, not secrets.
func secretKey(name string) bool {
	n := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, name)
	switch n {
	case "key", "keys", "auth", "sig", "pass", "pwd", "cookie", "session", "sessionid", "jwt", "bearer":
		return true
	}
	for _, s := range [...]string{"apikey", "apikeys", "accesskey", "secretkey", "privatekey", "authkey", "token",
		"secret", "secrets", "password", "passwd", "passphrase", "authorization", "signature", "credential",
		"credentials"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// redactString redacts one string as the gateway package redacts each
// string of a stored reply (gateway.RedactText): a value that is an
// http(s) URL goes through gateway.RedactURL (signatures, tokens, userinfo
// and fragment go), and free text has its embedded URLs and name=value
// credentials masked.
func redactString(s string) string { return gateway.RedactText(s) }
