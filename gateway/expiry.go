package gateway

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A result URL stops working when its signature expires, often 24 h after the
// task finished, and the video is gone for good soon after. The archiver
// schedules downloads by the expiry the URL itself carries, when it carries
// one; URLExpiry reads it.

const (
	// authKeyValidity is the lifetime assumed for an auth_key URL whose
	// timestamp is its signing time: the CDN's configured validity is not in
	// the URL, and Volcengine VOD signs for 24 h.
	authKeyValidity = 24 * time.Hour
	// authKeySkew separates the two readings of an auth_key timestamp: one
	// more than this after issue can only be an expiry.
	authKeySkew = time.Hour
	// maxLifetime bounds an X-*-Expires lifetime. Providers cap presigned
	// URLs at 7 days; a larger value is garbage, and trusting it would
	// schedule the download later than the safe default.
	maxLifetime = 366 * 24 * time.Hour
)

// Unix timestamps outside [2000, 2200) are not expiries of a URL issued by
// this gateway; "Expires=3600" (a lifetime, not a time) is the usual mistake.
const (
	minPlausible = 946684800  // 2000-01-01T00:00:00Z
	maxPlausible = 7258118400 // 2200-01-01T00:00:00Z
)

// URLExpiry reads the expiry a signed URL carries. ok=false when it carries
// none that we recognise; the caller then falls back to finish_time + 24 h.
//
// Recognised, with parameter names in any letter case:
//   - X-Tos-Date + X-Tos-Expires (and the X-Amz-, X-Oss-, X-Goog- twins):
//     date plus lifetime;
//   - Expires=<unix seconds> (OSS V1, CloudFront, S3 SigV2);
//   - auth_key=<timestamp>-<rand>-<uid>-<md5> (Volcengine VOD, CDN type A).
//     CDNs disagree on whether the timestamp is the issue time or the
//     expiry: one more than an hour after issued can only be the expiry;
//     otherwise it is taken as the issue time with 24 h validity. With issued
//     zero the timestamp itself is taken, the earlier of the two readings.
//
// When a URL carries several, the earliest wins: the URL dies when its first
// limit passes. Garbage values are ignored, never trusted.
func URLExpiry(rawURL string, issued time.Time) (t time.Time, ok bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return time.Time{}, false
	}
	q := lowerQuery(u.RawQuery)
	consider := func(c time.Time, cok bool) {
		if cok && (!ok || c.Before(t)) {
			t, ok = c, true
		}
	}
	// Schemes that sign with <prefix>date (20060102T150405Z, UTC) plus a
	// <prefix>expires lifetime in seconds: Volcengine TOS, AWS SigV4 (and
	// S3-compatible stores), Aliyun OSS V4, GCS V4.
	for _, p := range []string{"x-tos-", "x-amz-", "x-oss-", "x-goog-"} {
		consider(dateExpires(q[p+"date"], q[p+"expires"]))
	}
	consider(unixExpiry(q["expires"]))
	consider(authKeyExpiry(q["auth_key"], issued))
	return t, ok
}

// lowerQuery decodes a raw query into a map keyed by lower-cased name. The
// first occurrence of a name wins; pairs that do not decode are skipped.
func lowerQuery(raw string) map[string]string {
	q := make(map[string]string)
	for _, p := range strings.Split(raw, "&") {
		rawName, rawValue, _ := strings.Cut(p, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil || name == "" {
			continue
		}
		name = strings.ToLower(name)
		if _, seen := q[name]; !seen {
			q[name] = strings.TrimSpace(value)
		}
	}
	return q
}

func dateExpires(date, expires string) (time.Time, bool) {
	if date == "" || expires == "" {
		return time.Time{}, false
	}
	signed, err := time.Parse("20060102T150405Z", date)
	if err != nil || signed.Unix() < minPlausible || signed.Unix() >= maxPlausible {
		return time.Time{}, false
	}
	secs, ok := digits(expires)
	if !ok || secs < 1 || secs > int64(maxLifetime/time.Second) {
		return time.Time{}, false
	}
	return signed.Add(time.Duration(secs) * time.Second).UTC(), true
}

func unixExpiry(v string) (time.Time, bool) {
	ts, ok := plausibleUnix(v)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(ts, 0).UTC(), true
}

func authKeyExpiry(v string, issued time.Time) (time.Time, bool) {
	parts := strings.Split(v, "-")
	if len(parts) < 4 || parts[len(parts)-1] == "" {
		return time.Time{}, false
	}
	ts, ok := plausibleUnix(parts[0])
	if !ok {
		return time.Time{}, false
	}
	at := time.Unix(ts, 0).UTC()
	if issued.IsZero() || at.After(issued.Add(authKeySkew)) {
		return at, true
	}
	return at.Add(authKeyValidity), true
}

func plausibleUnix(v string) (int64, bool) {
	ts, ok := digits(v)
	if !ok || ts < minPlausible || ts >= maxPlausible {
		return 0, false
	}
	return ts, true
}

// digits parses a non-negative decimal integer written with ASCII digits
// only: no sign, no spaces, no exponent, nothing strconv would also accept.
func digits(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
