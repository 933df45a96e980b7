package minio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/net/http/httpguts"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// Put implements storage.Store.
//
// A known size up to PartSize is read into memory, hashed once, and sent as
// one PUT whose signature carries that SHA-256 (putSigned): the server
// refuses a body whose hash differs, so it cannot store a truncated one.
//
// A larger known size, up to 5 GiB, is one streamed PUT: minio-go chooses a
// single PUT when the size is at most PartSize, so PartSize is raised to the
// size. minio-go streams that PUT without buffering (unless SendContentMd5
// is set, which it is not here): over http the body is signed in 64 KiB
// chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), so a body cut short lacks its
// final signed chunk and the server refuses it (IncompleteBody); over https
// it is sent as UNSIGNED-PAYLOAD, and atomicity rests on the server checking
// Content-Length, which MinIO does.
//
// A size of -1, or above 5 GiB, is a multipart upload that minio-go feeds
// from one PartSize buffer, part after part, and aborts on failure.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	_, err := s.put(ctx, key, r, size, opts, false)
	return err
}

// PutSHA256 implements storage.HashingPutter. A body of known size up to
// PartSize is verified by the server (the signed payload hash is the digest
// returned); a streamed or multipart upload hashes the bytes as minio-go
// reads them, besides minio-go's own hashes of chunks or parts.
func (s *Store) PutSHA256(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.PutResult, error) {
	return s.put(ctx, key, r, size, opts, true)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions, wantSum bool) (storage.PutResult, error) {
	meta, err := metaHeaders(opts.Metadata)
	if err != nil {
		return storage.PutResult{}, fmt.Errorf("minio: put %q: %w", key, err)
	}
	body := storage.NewSizedReader(r, size)
	po := minio.PutObjectOptions{
		ContentType:        opts.ContentType,
		ContentDisposition: opts.ContentDisposition,
		UserMetadata:       meta,
		UserTags:           opts.Tags,
		PartSize:           uint64(s.partSize),
	}
	var res storage.PutResult
	if size >= 0 && size <= s.partSize {
		res, err = s.putSigned(ctx, key, body, size, po)
	} else {
		var src io.Reader = body
		var h hash.Hash
		if wantSum {
			h = sha256.New()
			src = io.TeeReader(body, h)
		}
		switch {
		case size > 0 && size <= maxSinglePut:
			po.PartSize = uint64(size)
		case size > maxSinglePut:
			// minio-go refuses a known size that PartSize cannot cover in
			// 10,000 parts; raise it to the next MiB that does.
			need := (size + maxParts - 1) / maxParts
			po.PartSize = uint64(max(s.partSize, (need+1<<20-1)&^(1<<20-1)))
		}
		_, err = s.client.PutObject(ctx, s.bucket, key, src, size, po)
		if h != nil {
			h.Sum(res.SHA256[:0])
		}
	}
	if err == nil {
		return res, nil
	}
	if body.Err() != nil {
		// The body failed (the source died, or it had the wrong size):
		// that is the cause. minio-go may have replaced it: it rewrites a
		// transport error mentioning "EOF" into "Connection closed by
		// foreign host", dropping the wrapped error.
		return storage.PutResult{}, fmt.Errorf("minio: put %q: read body: %w", key, body.Err())
	}
	return storage.PutResult{}, s.classify("put", key, err)
}

// putSigned reads body into memory, hashes it once, and sends it as one PUT
// whose X-Amz-Content-Sha256 is that hash, through minio.Core, the only
// minio-go call that takes a precomputed SHA-256. DisableContentSha256 turns
// off the streaming chunk signatures, which would hash every 64 KiB chunk
// again and ignore ours. A bytes.Reader body lets minio-go retry.
func (s *Store) putSigned(ctx context.Context, key string, body *storage.SizedReader, size int64, po minio.PutObjectOptions) (storage.PutResult, error) {
	buf, err := s.bufs.ReadPart(body, size)
	if err != nil {
		return storage.PutResult{}, err
	}
	defer s.bufs.Release(buf)
	res := storage.PutResult{SHA256: sha256.Sum256(buf), Verified: true}
	po.DisableContentSha256 = true
	core := minio.Core{Client: s.client}
	_, err = core.PutObject(ctx, s.bucket, key, bytes.NewReader(buf), size, "", hex.EncodeToString(res.SHA256[:]), po)
	return res, err
}

// metaHeaders turns user metadata into the x-amz-meta-* headers minio-go
// sends as they are. Left bare, a key that is also a header name
// ("content-type", "x-amz-acl") would be sent as that header; and
// minio.Core, unlike minio.Client, does not check names and values. A
// name or value net/http cannot send is a permanent error.
func metaHeaders(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return nil, retry.Permanent(fmt.Errorf("minio: user metadata %q: not a valid header name and value", k))
		}
		out["x-amz-meta-"+k] = v
	}
	return out, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return storage.ObjectInfo{}, s.classify("stat", key, err)
	}
	return storage.ObjectInfo{
		Key:                key,
		Size:               oi.Size,
		ContentType:        oi.ContentType,
		ContentDisposition: oi.Metadata.Get("Content-Disposition"),
		Metadata:           lowerKeys(oi.UserMetadata),
		ModTime:            oi.LastModified,
	}, nil
}

// lowerKeys normalises metadata keys: minio-go returns them in canonical
// header case ("Task-Id"), the contract's keys are lower-case.
func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// Open implements storage.Store. minio-go's GetObject sends no request
// until the first Read or Stat, so a missing key would only show up then;
// Stat here makes Open itself report it.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.classify("open", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.classify("open", key, err)
	}
	return obj, nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.classify("delete", key, s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}))
	if err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

// List implements storage.Store. S3 lists keys in UTF-8 binary order,
// which is Go's string order.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	// Cancelling stops minio-go's listing goroutine when fn ends early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return s.classify("list", prefix, obj.Err)
		}
		if err := fn(storage.ObjectInfo{Key: obj.Key, Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Presign implements storage.Presigner: a GET URL for key valid for ttl
// (between 1 s and 7 days). Presigning is local computation once the
// bucket's region is known; it does not check that key exists.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", s.classify("presign", key, err)
	}
	return u.String(), nil
}

// AbortIncompleteUploads aborts every unfinished multipart upload whose key
// starts with prefix and returns how many it aborted. Put aborts its own
// failed uploads; this sweeps those a crash or a failed abort left behind,
// whose parts take space but are invisible. Do not run it while Puts under
// prefix are in flight: it would abort them too.
func (s *Store) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	// Collect first: aborting while paging through the listing would move
	// the markers under it.
	type upload struct{ key, id string }
	var uploads []upload
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, prefix, true) {
		if up.Err != nil {
			return 0, s.classify("list uploads", prefix, up.Err)
		}
		uploads = append(uploads, upload{up.Key, up.UploadID})
	}
	core := minio.Core{Client: s.client}
	aborted := 0
	for _, up := range uploads {
		err := s.classify("abort upload", up.key, core.AbortMultipartUpload(ctx, s.bucket, up.key, up.id))
		if err != nil && !isNotExist(err) {
			return aborted, fmt.Errorf("%w (upload %s)", err, up.id)
		}
		aborted++
	}
	return aborted, nil
}

func isNotExist(err error) bool { return errors.Is(err, storage.ErrNotExist) }
