package gateway

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// The lenient types decode any JSON value without error, converting what is
// convertible and leaving zero otherwise. With them a reply fails to decode
// only when it is not JSON at all: a gateway that sends "5" for 5, 5.0 for a
// timestamp, 1 for true or null for anything still yields its task, because
// losing a finished video over a field's type would be the worse failure.
//
// Each UnmarshalJSON receives one syntactically valid JSON value (the decoder
// has validated the whole document), so the first byte tells its kind.

// lenientString takes strings, numbers (as written) and booleans. Null,
// objects and arrays become "": a structured value has no string meaning
// here, and the caller keeps the raw reply anyway.
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	*s = ""
	switch {
	case len(b) == 0:
	case b[0] == '"':
		var v string
		if json.Unmarshal(b, &v) == nil {
			*s = lenientString(v)
		}
	case b[0] == 't', b[0] == 'f', b[0] == '-', b[0] >= '0' && b[0] <= '9':
		*s = lenientString(b)
	}
	return nil
}

// lenientInt takes integers, floats (truncated toward zero), numeric strings
// and booleans (0 or 1). Values outside int64, NaN and infinities become 0
// rather than a wrapped or saturated number that looks real.
type lenientInt int64

func (n *lenientInt) UnmarshalJSON(b []byte) error {
	*n = 0
	if v, ok := jsonNumber(b); ok {
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			*n = lenientInt(i)
			return nil
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > -(1<<63) && f < 1<<63 {
			*n = lenientInt(int64(f))
		}
	}
	return nil
}

// lenientFloat takes numbers, numeric strings and booleans; NaN and
// infinities become 0.
type lenientFloat float64

func (f *lenientFloat) UnmarshalJSON(b []byte) error {
	*f = 0
	if v, ok := jsonNumber(b); ok {
		if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(x, 0) && !math.IsNaN(x) {
			*f = lenientFloat(x)
		}
	}
	return nil
}

// lenientBool takes booleans, numbers (non-zero is true) and the strings
// strconv.ParseBool knows plus yes/no and on/off.
type lenientBool bool

func (v *lenientBool) UnmarshalJSON(b []byte) error {
	*v = false
	var s lenientString
	_ = s.UnmarshalJSON(b)
	str := strings.ToLower(strings.TrimSpace(string(s)))
	switch str {
	case "yes", "y", "on":
		*v = true
		return nil
	case "", "no", "n", "off":
		return nil
	}
	if t, err := strconv.ParseBool(str); err == nil {
		*v = lenientBool(t)
		return nil
	}
	if x, err := strconv.ParseFloat(str, 64); err == nil && x != 0 && !math.IsNaN(x) {
		*v = true
	}
	return nil
}

// jsonNumber returns the numeric text of a JSON number or of a string holding
// one, and "1" or "0" for true or false (bare or quoted). ok is false for
// null, objects, arrays and empty strings; the text may still fail to parse.
func jsonNumber(b []byte) (v string, ok bool) {
	var s lenientString
	_ = s.UnmarshalJSON(b)
	v = strings.TrimSpace(string(s))
	switch v {
	case "":
		return "", false
	case "true":
		return "1", true
	case "false":
		return "0", true
	}
	return v, true
}
