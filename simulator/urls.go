package simulator

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The two URL styles of the real stores, served by this simulator:
//
//	TOS (Volcengine object storage, pre-signed):
//	  http://{host}/tos/{task_id}/{kind}.mp4?X-Tos-Algorithm=TOS4-HMAC-SHA256
//	    &X-Tos-Credential=AKLT.../{yyyymmdd}/cn-beijing/tos/request
//	    &X-Tos-Date={finish, 20060102T150405Z}&X-Tos-Expires={URLTTL seconds}
//	    &X-Tos-SignedHeaders=host&X-Tos-Signature={hex HMAC-SHA256}
//	VOD (Volcengine video CDN, URL auth type A):
//	  http://{host}/vod/{task_id}/result.mp4?preview=1
//	    &auth_key={expiry unix}-{rand}-0-{md5 hex}
//
// The TOS signature is HMAC-SHA256, keyed with the server secret, over the
// path, X-Tos-Date and X-Tos-Expires, so neither the path nor the lifetime can
// be altered. The VOD hash follows the CDN's type-A scheme, md5 over
// "{path}-{ts}-{rand}-{uid}-{secret}", which is why its last part is 32 hex
// digits. The host is not signed, so URLs work behind httptest's random port.
// Both URLs of a task are fixed at finish time: re-polling returns the same
// strings, as on the real gateway, which never re-signs.
const (
	tosAlgorithm  = "TOS4-HMAC-SHA256"
	tosDateLayout = "20060102T150405Z"
)

// mediaPath is the path part of the URL serving v.
func mediaPath(t *task, v *video) string {
	return "/" + v.scheme + "/" + t.id + "/" + v.kind + ".mp4"
}

// mediaURL returns the signed URL of video v of the finished task t, on host.
func (s *Server) mediaURL(host string, t *task, v *video) string {
	path := mediaPath(t, v)
	expiry := t.finishAt.Add(s.cfg.URLTTL)
	if v.scheme == "vod" {
		return "http://" + host + path + "?preview=1&auth_key=" + s.vodAuthKey(path, expiry.Unix(), t.authRand, "0")
	}
	date := t.finishAt.UTC().Format(tosDateLayout)
	expires := strconv.FormatInt(max(int64(s.cfg.URLTTL/time.Second), 1), 10)
	credential := "AKLT" + strings.ToUpper(hex.EncodeToString(s.secret[:10])) + "/" +
		t.finishAt.UTC().Format("20060102") + "/cn-beijing/tos/request"
	return "http://" + host + path +
		"?X-Tos-Algorithm=" + tosAlgorithm +
		"&X-Tos-Credential=" + url.QueryEscape(credential) +
		"&X-Tos-Date=" + date +
		"&X-Tos-Expires=" + expires +
		"&X-Tos-SignedHeaders=host" +
		"&X-Tos-Signature=" + s.tosSignature(path, date, expires)
}

func (s *Server) tosSignature(path, date, expires string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(tosAlgorithm + "\n" + path + "\n" + date + "\n" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) vodAuthKey(path string, ts int64, rnd, uid string) string {
	t := strconv.FormatInt(ts, 10)
	sum := md5.Sum([]byte(path + "-" + t + "-" + rnd + "-" + uid + "-" + hex.EncodeToString(s.secret)))
	return t + "-" + rnd + "-" + uid + "-" + hex.EncodeToString(sum[:])
}

// denial is why a store refuses a media request, in S3/TOS error words.
type denial struct {
	status        int
	code, message string
}

var (
	errSignature = &denial{403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."}
	errExpired   = &denial{403, "AccessDenied", "Request has expired"}
	errNoKey     = &denial{404, "NoSuchKey", "The specified key does not exist."}
)

// verify checks the signature of a media request for path, then its expiry
// against now. A valid URL is usable while now is before its expiry.
func (s *Server) verify(scheme, path string, q url.Values, now time.Time) *denial {
	var expiry time.Time
	switch scheme {
	case "tos":
		date, expires, sig := q.Get("X-Tos-Date"), q.Get("X-Tos-Expires"), q.Get("X-Tos-Signature")
		if !hmac.Equal([]byte(sig), []byte(s.tosSignature(path, date, expires))) {
			return errSignature
		}
		d, err := time.Parse(tosDateLayout, date)
		n, err2 := strconv.ParseInt(expires, 10, 64)
		if err != nil || err2 != nil {
			return errSignature
		}
		expiry = d.Add(time.Duration(n) * time.Second)
	case "vod":
		key := q.Get("auth_key")
		parts := strings.Split(key, "-")
		if len(parts) != 4 {
			return errSignature
		}
		ts, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || !hmac.Equal([]byte(key), []byte(s.vodAuthKey(path, ts, parts[1], parts[2]))) {
			return errSignature
		}
		expiry = time.Unix(ts, 0)
	default:
		return errNoKey
	}
	if !now.Before(expiry) {
		return errExpired
	}
	return nil
}
