// Package storage defines where archived videos and their task.json sidecars
// live. The contract is the Store interface; each driver (storage/fs,
// storage/s3, storage/minio) lives in its own subpackage, exports a type named
// Store, and passes the conformance suite in storage/storagetest against a
// real server.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is returned (wrapped) by Stat and Open when no object has the key.
var ErrNotExist = errors.New("object does not exist")

// Store is the small contract every storage driver implements.
//
// Keys are slash-separated, relative, and already validated by the caller
// (no "..", no leading slash, no empty segments); drivers may still refuse a
// key they cannot hold, with a permanent error.
//
// Errors are classified at the driver boundary: a driver wraps an error that
// retrying cannot fix (missing bucket, rejected credentials, invalid key) with
// retry.Permanent; anything else is treated as transient by the caller.
// Drivers contain no retry loops of their own beyond what their SDK does per
// request.
type Store interface {
	// Put stores the bytes of r under key, replacing any object already there.
	// size is the exact number of bytes r yields, or -1 when unknown.
	//
	// Put MUST read r until io.EOF or return an error, and MUST return the
	// error r returned (wrapped) when a read fails. When size >= 0 and r
	// yields fewer or more bytes, Put MUST fail and store nothing. Put MUST be atomic: when it
	// returns an error, no new object is visible under key (an old one may
	// remain); readers never see a partial object. Put MUST NOT buffer more
	// of the body than a bounded part in memory (the SDK drivers hold a body
	// of at most their part size, to sign it), nor the whole body on local
	// disk (fs writes a temporary file in the destination directory and
	// renames it).
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error

	// Stat returns what is stored under key, or an error wrapping ErrNotExist.
	// Metadata keys come back lower-case, whatever case the backend uses.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// Open returns the object's bytes, or an error wrapping ErrNotExist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)

	// Delete removes key. Deleting a key that does not exist is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. An error from fn stops the listing and is returned.
	// Metadata and ContentType may be empty in listed ObjectInfo.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Location names where objects go, for the catalog and for people:
	// "s3://bucket", "minio://bucket" or "file:///abs/root". Keep to these
	// forms: the catalog derives from them the bucket name and object URL a
	// script reads (catalog.Address), and migrated old rows from them; a
	// driver whose key is not the file below root says so through its own
	// Path(key) method, as fs does.
	Location() string
}

// PutOptions are the attributes stored with an object.
type PutOptions struct {
	ContentType        string
	ContentDisposition string
	// Metadata is user metadata. Keys are lower-case ASCII letters, digits
	// and '-'; values are printable ASCII (callers sanitize them).
	Metadata map[string]string
	// Tags are object tags (at most 10). Drivers that cannot tag ignore them.
	Tags map[string]string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key                string
	Size               int64
	ContentType        string
	ContentDisposition string
	Metadata           map[string]string
	ModTime            time.Time
}

// Presigner is implemented by drivers that can hand out time-limited GET URLs.
type Presigner interface {
	Presign(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// UploadAborter is implemented by drivers that can leave unfinished uploads
// behind after a crash: multipart uploads on S3 and MinIO (invisible, but
// billed), temp files on fs (they take disk space). AbortIncompleteUploads
// removes those whose key starts with prefix and returns how many it
// removed. It MUST NOT be called while Puts under prefix are in flight: on
// S3 it would abort them too (fs spares temp files younger than an hour).
type UploadAborter interface {
	AbortIncompleteUploads(ctx context.Context, prefix string) (int, error)
}

// HashingPutter is implemented by drivers that can hand back the SHA-256 of
// what they stored as a by-product of storing it. Over plain http a SigV4
// upload must carry the payload's SHA-256 (x-amz-content-sha256), so the SDK
// drivers hash every byte anyway; computed once by the driver, that digest
// signs the request, the server checks it, and the caller (the archiver,
// which records every video's SHA-256) need not hash the body a second time.
type HashingPutter interface {
	// PutSHA256 is Put, with every guarantee of Put, that also returns the
	// SHA-256 of what it stored.
	//
	// When err is nil, res.SHA256 MUST be the SHA-256 of exactly the bytes
	// read from r up to io.EOF, which are exactly the bytes now stored under
	// key, in order. res.Verified is true only when the server itself checked
	// that digest against the bytes it received and refused the request had
	// they differed (a signed payload hash): the object then holds exactly
	// size bytes with that digest, and reading its size back adds nothing.
	// When false, the driver hashed the bytes on their way out (a multipart
	// upload, whose parts the server checks one by one; an unsigned payload
	// over TLS), and a caller keeps whatever checks it makes after Put.
	// When err is not nil, res is meaningless.
	PutSHA256(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (res PutResult, err error)
}

// PutResult is what HashingPutter.PutSHA256 learned while storing.
type PutResult struct {
	SHA256   [32]byte
	Verified bool // the server checked SHA256 against what it stored
}
