package gateway

import (
	"testing"
	"time"
)

func TestURLExpiry(t *testing.T) {
	// issued is the sample super-resolution task's finish_time.
	issued := time.Date(2026, 4, 27, 11, 20, 34, 0, time.UTC)
	const tos = "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance/x.mp4?" +
		"X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTEXAMPLE%2F20260427%2Fcn-beijing%2Ftos%2Frequest" +
		"&X-Tos-Date=20260427T111505Z&X-Tos-Expires=86400&X-Tos-Signature=0123abcd&X-Tos-SignedHeaders=host"
	const vod = "https://v3.vod.cn-north-1.volcvideo.com/x/video.mp4?preview=1&auth_key="
	tests := []struct {
		name   string
		url    string
		issued time.Time
		want   time.Time // zero: ok=false
	}{
		{"TOS", tos, issued, time.Date(2026, 4, 28, 11, 15, 5, 0, time.UTC)},
		{"TOS lower-case names", "https://b.example/v.mp4?x-tos-date=20260427T111505Z&x-tos-expires=3600&x-tos-signature=s", issued,
			time.Date(2026, 4, 27, 12, 15, 5, 0, time.UTC)},
		{"AWS SigV4", "https://s3.example/b/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2Fx" +
			"&X-Amz-Date=20260427T111505Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=ff", issued,
			time.Date(2026, 5, 4, 11, 15, 5, 0, time.UTC)},
		{"OSS V4", "https://b.oss-cn-beijing.aliyuncs.com/v.mp4?x-oss-date=20260427T111505Z&x-oss-expires=60&x-oss-signature=s", issued,
			time.Date(2026, 4, 27, 11, 16, 5, 0, time.UTC)},
		{"OSS V1 Expires", "https://b.oss-cn-beijing.aliyuncs.com/v.mp4?OSSAccessKeyId=LTAI&Expires=1777375234&Signature=abc%3D", issued,
			time.Unix(1777375234, 0).UTC()},
		{"CloudFront Expires", "https://d111.cloudfront.net/v.mp4?Expires=1777300000&Signature=x~y&Key-Pair-Id=K2", issued,
			time.Unix(1777300000, 0).UTC()},
		{"auth_key is the expiry", vod + "1777296034-0-0-0123456789abcdef0123456789abcdef", issued,
			time.Unix(1777296034, 0).UTC()},
		{"auth_key is the issue time", vod + "1777288830-a1b2c3-0-0123456789abcdef0123456789abcdef", issued,
			time.Unix(1777288830, 0).Add(24 * time.Hour).UTC()},
		{"auth_key just inside the hour of skew", vod + "1777292434-0-0-abc", issued,
			time.Unix(1777292434, 0).Add(24 * time.Hour).UTC()},
		{"auth_key without issued", vod + "1777288830-0-0-abc", time.Time{}, time.Unix(1777288830, 0).UTC()},
		{"auth_key name in upper case", "https://x.example/v?AUTH_KEY=1777288830-0-0-abc", issued,
			time.Unix(1777288830, 0).Add(24 * time.Hour).UTC()},
		{"earliest of several wins", tos + "&Expires=1777290000", issued, time.Unix(1777290000, 0).UTC()},
		{"first of duplicate names wins", "https://x.example/v?Expires=1777290000&expires=1777280000", issued,
			time.Unix(1777290000, 0).UTC()},

		{"no query", "https://x.example/v.mp4", issued, time.Time{}},
		{"API doc placeholder", "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/...mp4?...", issued, time.Time{}},
		{"VOD placeholder", "https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=...", issued, time.Time{}},
		{"empty", "", issued, time.Time{}},
		{"unparseable", "http://[::1%zz]/x?Expires=1777290000", issued, time.Time{}},
		{"TOS date garbage", "https://x.example/v?X-Tos-Date=yesterday&X-Tos-Expires=86400", issued, time.Time{}},
		{"TOS date without expires", "https://x.example/v?X-Tos-Date=20260427T111505Z", issued, time.Time{}},
		{"TOS expires negative", "https://x.example/v?X-Tos-Date=20260427T111505Z&X-Tos-Expires=-5", issued, time.Time{}},
		{"TOS expires zero", "https://x.example/v?X-Tos-Date=20260427T111505Z&X-Tos-Expires=0", issued, time.Time{}},
		{"TOS expires exponent", "https://x.example/v?X-Tos-Date=20260427T111505Z&X-Tos-Expires=1e5", issued, time.Time{}},
		{"TOS expires over a year", "https://x.example/v?X-Tos-Date=20260427T111505Z&X-Tos-Expires=99999999999", issued, time.Time{}},
		{"TOS date in 1970", "https://x.example/v?X-Tos-Date=19700101T000000Z&X-Tos-Expires=60", issued, time.Time{}},
		{"Expires is a lifetime", "https://x.example/v?Expires=3600", issued, time.Time{}},
		{"Expires garbage", "https://x.example/v?Expires=tomorrow", issued, time.Time{}},
		{"Expires huge", "https://x.example/v?Expires=99999999999999999999999", issued, time.Time{}},
		{"Expires signed", "https://x.example/v?Expires=%2B1777290000", issued, time.Time{}},
		{"auth_key one part", vod + "1777288830", issued, time.Time{}},
		{"auth_key garbage timestamp", vod + "abc-0-0-abc", issued, time.Time{}},
		{"auth_key leading dash", vod + "-1777288830-0-0-abc", issued, time.Time{}},
		{"auth_key empty hash", vod + "1777288830-0-0-", issued, time.Time{}},
		{"bad escape in value", "https://x.example/v?Expires=17772%zz", issued, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := URLExpiry(tt.url, tt.issued)
			if want := !tt.want.IsZero(); ok != want {
				t.Fatalf("URLExpiry ok = %v (%v), want %v", ok, got, want)
			}
			if !got.Equal(tt.want) {
				t.Errorf("URLExpiry = %v, want %v", got, tt.want)
			}
			if ok && got.Location() != time.UTC {
				t.Errorf("URLExpiry location = %v, want UTC", got.Location())
			}
		})
	}
}

// Whatever a URL or a reply's finish time claims, an expiry URLExpiry gives
// is one the catalog and task.json can store: JSON can only write years
// 0 to 9999, and a far-off expiry would also schedule the download last.
func TestURLExpiryHostile(t *testing.T) {
	const date = "20260427T111505Z"
	issuedOK := time.Date(2026, 4, 27, 11, 20, 34, 0, time.UTC)
	urls := []string{
		"https://x.example/v?X-Tos-Date=" + date + "&X-Tos-Expires=99999999999999",
		"https://x.example/v?X-Amz-Date=" + date + "&X-Amz-Expires=9223372036854775807",
		"https://x.example/v?X-Oss-Date=" + date + "&X-Oss-Expires=31622401", // a year and a second
		"https://x.example/v?X-Tos-Date=99991231T235959Z&X-Tos-Expires=86400",
		"https://x.example/v?X-Goog-Date=00010101T000000Z&X-Goog-Expires=86400",
		"https://x.example/v?Expires=99999999999999",
		"https://x.example/v?Expires=253402300800", // year 10000
		"https://x.example/v?Expires=-62135596801", // before year 1
		"https://x.example/v?Expires=9223372036854775807",
		"https://x.example/v?auth_key=99999999999999-0-0-abc",
		"https://x.example/v?auth_key=253402300800-0-0-abc",
		"https://x.example/v?auth_key=1777288830-0-0-abc&Expires=7258118399",
	}
	issued := []time.Time{
		issuedOK,
		time.Unix(99999999999999, 0), // the finish_time from the issue
		time.Unix(-99999999999999, 0),
		{},
	}
	hi := time.Unix(maxPlausible, 0).Add(maxLifetime + authKeyValidity)
	for _, u := range urls {
		for _, at := range issued {
			got, ok := URLExpiry(u, at)
			if !ok {
				continue
			}
			if got.Before(time.Unix(minPlausible, 0)) || got.After(hi) {
				t.Errorf("URLExpiry(%q, %v) = %v: outside 2000 to 2201", u, at, got)
			}
			if _, err := got.MarshalJSON(); err != nil {
				t.Errorf("URLExpiry(%q, %v) = %v, which JSON cannot encode: %v", u, at, got, err)
			}
		}
	}
	// The garbage is ignored, not clamped into a real-looking time.
	for _, u := range urls[:10] {
		if got, ok := URLExpiry(u, issuedOK); ok {
			t.Errorf("URLExpiry(%q) = %v, want none", u, got)
		}
	}
}
