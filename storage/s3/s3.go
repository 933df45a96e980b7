// Package s3 is the storage driver for Amazon S3 and S3-compatible servers
// (MinIO, R2, B2, versitygw, ...) on aws-sdk-go-v2.
//
// On AWS, objects of known size up to 5 GiB go up in one streamed
// PutObject, and the rest through feature/s3/transfermanager. On
// S3-compatible servers an object of up to one part is one PutObject from
// memory, signed with its SHA-256, which the driver computes once and
// returns (storage.HashingPutter); a larger one is a multipart upload of
// parts signed the same way. Put explains why S3-compatible servers do not
// get the streamed path.
package s3

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

const (
	// DefaultPartSize is the multipart part size when Config.PartSize is 0.
	// With S3's 10,000-part limit it caps a stream of unknown size at
	// 156 GiB, far above any generated video.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's minimum for all parts but the last.
	MinPartSize = 5 << 20
	// maxSinglePut is S3's limit for one PutObject; larger objects of known
	// size go multipart.
	maxSinglePut = 5 << 30
	// partConcurrency is the transfermanager's number of parts in flight
	// (AWS only: a body of unknown size or over 5 GiB). Its memory for an
	// upload is at most about PartSize*(partConcurrency+2): the first-part
	// buffer plus its pool of partConcurrency+1 part buffers. On custom
	// endpoints putMultipart holds two parts.
	partConcurrency = 1
)

// Config says where the bucket is and how to reach it.
type Config struct {
	Bucket string
	// Region defaults to the AWS chain (AWS_REGION, shared config), and to
	// "us-east-1" when Endpoint is set: S3-compatible servers sign with it
	// but rarely care which it is.
	Region string
	// Endpoint is the base URL of an S3-compatible server; empty for AWS.
	Endpoint string
	// ForcePathStyle puts the bucket in the path (http://host/bucket/key)
	// instead of the host name; most self-hosted servers need it.
	ForcePathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials. When
	// AccessKeyID is empty the default AWS chain is used (environment,
	// shared files, SSO, IMDS, ...).
	AccessKeyID     string
	SecretAccessKey string
	// PartSize is the multipart part size, at least MinPartSize; 0 means
	// DefaultPartSize.
	PartSize int64
}

// Store is a bucket on S3 or an S3-compatible server.
type Store struct {
	client   *s3.Client
	uploader *transfermanager.Client
	presign  *s3.PresignClient
	bufs     *storage.PartBuffers // for putSigned
	partSize int64
	bucket   string
	server   string // for error messages: the endpoint, or "AWS S3"
	// streamPut sends objects of known size as one unbuffered PutObject.
	// Only on AWS, whose Content-Length check makes that atomic; see Put.
	streamPut bool
}

// New connects to cfg's bucket and checks that it exists and that the
// credentials are accepted, so a bad configuration fails at startup with a
// permanent error rather than on the first upload.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, retry.Permanent(errors.New("s3: no bucket configured"))
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > maxSinglePut {
		return nil, retry.Permanent(fmt.Errorf("s3: part size %d outside [%d, %d]", partSize, MinPartSize, int64(maxSinglePut)))
	}
	if cfg.AccessKeyID != "" && cfg.SecretAccessKey == "" {
		return nil, retry.Permanent(errors.New("s3: access key ID set but secret access key empty"))
	}

	var loadOpts []func(*config.LoadOptions) error
	region := cfg.Region
	if region == "" && cfg.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	if cfg.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("s3: load AWS configuration: %w", err))
	}
	if awsCfg.Region == "" {
		return nil, retry.Permanent(errors.New("s3: no region: set it in the configuration or AWS_REGION"))
	}

	// Since service/s3 v1.73.0 (January 2025) the SDK adds a CRC32 checksum
	// to every upload by default (over TLS as an aws-chunked body with a
	// trailer) and validates response checksums. Many S3-compatible servers
	// do not implement that: R2 answers 501 NotImplemented for the checksum
	// header, older MinIO and others answer XAmzContentSHA256Mismatch. On a
	// custom endpoint checksums are therefore computed only when an
	// operation requires them, the SDK's behaviour before the change.
	custom := cfg.Endpoint != ""
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.ForcePathStyle
		if custom {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	uploader := newUploader(client, partSize, custom)
	s := &Store{
		client:    client,
		uploader:  uploader,
		presign:   s3.NewPresignClient(client),
		bufs:      storage.NewPartBuffers(partSize),
		partSize:  partSize,
		bucket:    cfg.Bucket,
		server:    cfg.Endpoint,
		streamPut: !custom,
	}
	if s.server == "" {
		s.server = "AWS S3 (" + awsCfg.Region + ")"
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return nil, s.bucketErr(ctx, err)
	}
	return s, nil
}

// newUploader configures the transfermanager (AWS only, see Put) for
// bounded memory and for the same checksum policy as the client.
func newUploader(client *s3.Client, partSize int64, custom bool) *transfermanager.Client {
	return transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = partSize
		// The threshold is also the size of the transfermanager's first
		// read buffer: keep it one part, not its 16 MiB default.
		o.MultipartUploadThreshold = partSize
		o.Concurrency = partConcurrency
		// The abort after a failure gets a fresh context, so a cancelled
		// upload still cleans up its parts.
		o.FailTimeout = time.Minute
		if custom {
			// The transfermanager does not inherit the client's setting: it
			// overrides it on every call with its own, which defaults to
			// "when supported".
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	})
}

// Location implements storage.Store.
func (s *Store) Location() string { return "s3://" + s.bucket }

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.Presigner     = (*Store)(nil)
	_ storage.HashingPutter = (*Store)(nil)
)
