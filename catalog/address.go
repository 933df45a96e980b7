package catalog

import (
	"net/url"
	"path/filepath"
	"strings"
)

// Address derives the two names a script needs for an object from where it
// was stored (the store's Location: "s3://bucket", "minio://bucket" or
// "file:///abs/root") and its key:
//
//   - bucket is the bucket's name alone, what `aws s3 cp "s3://$bucket/$key"`
//     and `mc cp` take; "" for a folder (fs), which has no bucket.
//   - objectURL is the object's full address: "s3://bucket/key" for both S3
//     drivers (the form of the AWS CLI, key as is: give the CLI the
//     endpoint), and for a folder the file URL of root/key (FileURL).
//
// Both are "" for an object without a key (a video never stored). The fs
// driver may store a key under another name (escaped on case-insensitive
// filesystems): the archiver then passes its real path to FileURL instead.
// A location of another form keeps it as the prefix of the URL.
func Address(location, key string) (bucket, objectURL string) {
	if key == "" || location == "" {
		return "", ""
	}
	scheme, rest, _ := strings.Cut(location, "://")
	switch scheme {
	case "s3", "minio":
		return rest, "s3://" + rest + "/" + key
	case "file":
		return "", FileURL(strings.TrimSuffix(rest, "/") + "/" + key)
	}
	return "", strings.TrimSuffix(location, "/") + "/" + key
}

// FileURL is the file:// URL of an absolute path (RFC 8089): slashes on
// every OS, "file:///C:/..." for a Windows drive, and percent-encoding
// where a name holds a character a URL cannot carry as is (a space, "#",
// "%", "^", non-ASCII letters), so that any URL parser reads it back.
func FileURL(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
