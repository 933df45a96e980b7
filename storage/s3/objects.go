package s3

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reelvault/reelvault/storage"
)

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return storage.ObjectInfo{}, s.classify("stat", key, err)
	}
	return storage.ObjectInfo{
		Key:                key,
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		Metadata:           lowerKeys(out.Metadata),
		ModTime:            aws.ToTime(out.LastModified),
	}, nil
}

// lowerKeys normalises metadata keys: HTTP headers are case-insensitive and
// servers differ in the case they return, while the contract's keys are
// lower-case.
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

// Open implements storage.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, s.classify("open", key, err)
	}
	return out.Body, nil
}

// Delete implements storage.Store. S3 answers 204 for a missing key; a
// server answering NoSuchKey instead is treated the same.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err = s.classify("delete", key, err); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

// List implements storage.Store. S3 returns keys in UTF-8 binary order,
// which is Go's string order.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.classify("list", prefix, err)
		}
		for _, obj := range page.Contents {
			info := storage.ObjectInfo{
				Key:     aws.ToString(obj.Key),
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Presign implements storage.Presigner: a GET URL for key valid for ttl.
// Presigning is local computation; it does not check that key exists.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", s.classify("presign", key, err)
	}
	return req.URL, nil
}

// AbortIncompleteUploads aborts every unfinished multipart upload whose key
// starts with prefix and returns how many it aborted. Put aborts its own
// failed uploads; this sweeps those a crash or a failed abort left behind,
// whose parts are billed but invisible. Do not run it while Puts under
// prefix are in flight: it would abort them too.
func (s *Store) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	aborted := 0
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return aborted, s.classify("list uploads", prefix, err)
		}
		for _, up := range page.Uploads {
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.bucket, Key: up.Key, UploadId: up.UploadId,
			})
			if err = s.classify("abort upload", aws.ToString(up.Key), err); err != nil && !isNotExist(err) {
				return aborted, fmt.Errorf("%w (upload %s)", err, aws.ToString(up.UploadId))
			}
			aborted++
		}
		if !aws.ToBool(page.IsTruncated) {
			return aborted, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}
