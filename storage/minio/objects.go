package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/reelvault/reelvault/storage"
)

// Put implements storage.Store.
//
// A known size up to 5 GiB is one PUT: minio-go chooses a single PUT when
// the size is at most PartSize, so PartSize is raised to the size. minio-go
// streams that PUT without buffering (unless SendContentMd5 is set, which it
// is not here): over http the body is signed in 64 KiB chunks
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), so a body cut short lacks its final
// signed chunk and the server refuses it (IncompleteBody); over https it is
// sent as UNSIGNED-PAYLOAD, and atomicity rests on the server checking
// Content-Length, which MinIO does.
//
// A size of -1, or above 5 GiB, is a multipart upload that minio-go feeds
// from one PartSize buffer, part after part, and aborts on failure.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	body := storage.NewSizedReader(r, size)
	po := minio.PutObjectOptions{
		ContentType:        opts.ContentType,
		ContentDisposition: opts.ContentDisposition,
		UserMetadata:       opts.Metadata,
		UserTags:           opts.Tags,
		PartSize:           uint64(s.partSize),
	}
	switch {
	case size == 0:
		// minio-go sends no body for an empty object and so never reads
		// it; check here that it is empty.
		if _, err := body.Read(nil); err != io.EOF {
			return fmt.Errorf("minio: put %q: read body: %w", key, err)
		}
	case size > 0 && size <= maxSinglePut:
		po.PartSize = uint64(max(s.partSize, size))
	case size > maxSinglePut:
		// minio-go refuses a known size that PartSize cannot cover in
		// 10,000 parts; raise it to the next MiB that does.
		need := (size + maxParts - 1) / maxParts
		po.PartSize = uint64(max(s.partSize, (need+1<<20-1)&^(1<<20-1)))
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, body, size, po)
	if err == nil {
		return nil
	}
	if body.Err() != nil {
		// The body failed (the source died, or it had the wrong size):
		// that is the cause. minio-go may have replaced it: it rewrites a
		// transport error mentioning "EOF" into "Connection closed by
		// foreign host", dropping the wrapped error.
		return fmt.Errorf("minio: put %q: read body: %w", key, body.Err())
	}
	return s.classify("put", key, err)
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
