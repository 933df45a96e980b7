// Package minio is the storage driver for MinIO (and other S3-compatible
// servers) on minio-go.
//
// An object of known size up to one part is one PUT from memory, signed
// with its SHA-256, which the driver computes once and returns
// (storage.HashingPutter). Larger ones stream: minio-go, unlike
// aws-sdk-go-v2, signs a streamed body over plain http chunk by chunk
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), so a single PUT can stream without
// buffering and a server still detects a truncated body. See Put.
package minio

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

const (
	// DefaultPartSize is the multipart part size when Config.PartSize is 0.
	// A stream of unknown size is cut into at most 10,000 parts, so this
	// caps it at 156 GiB; minio-go v7.4.1 fails the upload beyond that
	// rather than storing a truncated object.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's minimum for all parts but the last.
	MinPartSize = 5 << 20
	// maxSinglePut is S3's limit for one PUT.
	maxSinglePut = 5 << 30
	maxParts     = 10000
)

// Config says where the bucket is and how to reach it.
type Config struct {
	// Endpoint is "host:port", without a scheme (minio-go's convention);
	// Secure selects https.
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Secure    bool
	// Region may be empty: minio-go then asks the server for the bucket's
	// location once and caches it.
	Region string
	// PartSize is the multipart part size, at least MinPartSize; 0 means
	// DefaultPartSize. Put always passes it to minio-go: without it a
	// stream of unknown size gets ~537 MiB parts, each buffered in memory.
	PartSize int64
}

// Store is a bucket on MinIO or another S3-compatible server.
type Store struct {
	client   *minio.Client
	bufs     *storage.PartBuffers // for putSigned
	bucket   string
	server   string // for error messages
	partSize int64
}

// New connects to cfg's bucket and checks that it exists and that the
// credentials are accepted, so a bad configuration fails at startup with a
// permanent error rather than on the first upload.
func New(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.Bucket == "":
		return nil, retry.Permanent(errors.New("minio: no bucket configured"))
	case cfg.Endpoint == "":
		return nil, retry.Permanent(errors.New("minio: no endpoint configured"))
	case strings.Contains(cfg.Endpoint, "://"):
		return nil, retry.Permanent(fmt.Errorf("minio: endpoint %q must be host:port without a scheme (use Secure for https)", cfg.Endpoint))
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > maxSinglePut {
		return nil, retry.Permanent(fmt.Errorf("minio: part size %d outside [%d, %d]", partSize, MinPartSize, int64(maxSinglePut)))
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("minio: client for %s: %w", cfg.Endpoint, err))
	}
	s := &Store{client: client, bufs: storage.NewPartBuffers(partSize), bucket: cfg.Bucket, server: cfg.Endpoint, partSize: partSize}
	if err := s.checkBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// checkBucket asks BucketExists, then, because minio-go reads any 404 on
// the HEAD as "no such bucket" while versitygw answers an unknown access key
// with 404 too, asks again with a one-key listing, whose error body carries
// the real code.
func (s *Store) checkBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err == nil && exists {
		return nil
	}
	if err == nil || errorCode(err) != "" {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{MaxKeys: 1}) {
			err = obj.Err
			break
		}
		if err == nil {
			return nil // listable after all
		}
	}
	switch code := errorCode(err); {
	case code == minio.NoSuchBucket:
		return retry.Permanent(fmt.Errorf("minio: bucket %q does not exist at %s: %w", s.bucket, s.server, err))
	case credentialCodes[code]:
		return retry.Permanent(fmt.Errorf("minio: credentials rejected by %s for bucket %q: %w", s.server, s.bucket, err))
	}
	return s.classify("check bucket", "", err)
}

// Location implements storage.Store.
func (s *Store) Location() string { return "minio://" + s.bucket }

// credentialCodes mean the server did not accept who we are.
var credentialCodes = map[string]bool{
	"AccessDenied":          true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"XAdminUserNotFound":    true, // versitygw's InvalidAccessKeyId
}

// permanentCodes are error codes no retry can fix.
var permanentCodes = map[string]bool{
	"NoSuchBucket":            true,
	"InvalidArgument":         true,
	"InvalidBucketName":       true,
	"KeyTooLongError":         true,
	"EntityTooLarge":          true,
	"MetadataTooLarge":        true,
	"InvalidTag":              true,
	"XMinioInvalidObjectName": true,
}

// classify turns a minio-go error into the storage contract's: ErrNotExist
// wrapped for a missing key, retry.Permanent for what cannot succeed, and
// anything else (network, 5xx, throttling) left transient. A cancelled or
// expired context is returned unclassified.
func (s *Store) classify(op, key string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("minio: %s %q in bucket %q: %w", op, key, s.bucket, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return wrapped
	}
	switch code := errorCode(err); {
	case code == minio.NoSuchKey || code == "NoSuchUpload":
		return fmt.Errorf("minio: %s %q in bucket %q: %w: %w", op, key, s.bucket, storage.ErrNotExist, err)
	case permanentCodes[code] || credentialCodes[code]:
		return retry.Permanent(wrapped)
	}
	return wrapped
}

// errorCode is the S3 error code in err, or "".
func errorCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.Presigner     = (*Store)(nil)
	_ storage.HashingPutter = (*Store)(nil)
)
