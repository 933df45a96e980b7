package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/reelvault/reelvault/retry"
	"github.com/reelvault/reelvault/storage"
)

// permanentCodes are S3 error codes that no retry can fix: configuration
// (bucket, credentials, clock-independent signature failures) or a request
// the server will refuse every time.
var permanentCodes = map[string]bool{
	"NoSuchBucket":          true,
	"AccessDenied":          true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"InvalidArgument":       true,
	"InvalidBucketName":     true,
	"KeyTooLongError":       true,
	"EntityTooLarge":        true,
	"MetadataTooLarge":      true,
	"InvalidTag":            true,
	"AllAccessDisabled":     true,
	"AccountProblem":        true,
	"XAdminUserNotFound":    true,
}

// notExistCodes mean the object (or upload) is not there.
var notExistCodes = map[string]bool{
	"NoSuchKey":    true,
	"NotFound":     true, // HeadObject: a HEAD response has no body, only 404
	"NoSuchUpload": true,
}

// classify turns an SDK error into the storage contract's: ErrNotExist
// wrapped for a missing key, retry.Permanent for what cannot succeed, a
// Retry-After hint when the server sent one, and anything else (network,
// 5xx, throttling) left transient. A cancelled or expired context is
// returned unclassified, still matching errors.Is(err, context.Canceled).
func (s *Store) classify(op, key string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("s3: %s %q in bucket %q: %w", op, key, s.bucket, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return wrapped
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case notExistCodes[code]:
			return fmt.Errorf("s3: %s %q in bucket %q: %w: %w", op, key, s.bucket, storage.ErrNotExist, err)
		case permanentCodes[code]:
			return retry.Permanent(wrapped)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch status := respErr.HTTPStatusCode(); {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			// HEAD errors carry no code, only the status.
			return retry.Permanent(wrapped)
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			if d, ok := retryAfter(respErr.Response.Header.Get("Retry-After")); ok {
				return retry.After(wrapped, d)
			}
		}
	}
	return wrapped
}

// credentialCodes mean the server did not accept who we are.
var credentialCodes = map[string]bool{
	"AccessDenied":          true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"XAdminUserNotFound":    true, // versitygw's InvalidAccessKeyId, with status 404
}

// bucketErr explains why HeadBucket failed in New. A HEAD response has no
// body, so its error has a status but no code, and the status alone is
// ambiguous: versitygw answers an unknown access key with 404, the status of
// a missing bucket. So the same question is asked again with a GET (a
// one-key listing), whose error body carries the code.
func (s *Store) bucketErr(ctx context.Context, headErr error) error {
	err := headErr
	if status := httpStatus(err); status >= 400 && status < 500 {
		one := int32(1)
		if _, listErr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, MaxKeys: &one}); apiCode(listErr) != "" {
			err = listErr
		}
	}
	status, code := httpStatus(err), apiCode(err)
	switch {
	case code == "NoSuchBucket" || code == "NotFound" && status == http.StatusNotFound:
		return retry.Permanent(fmt.Errorf("s3: bucket %q does not exist at %s: %w", s.bucket, s.server, err))
	case credentialCodes[code] || status == http.StatusForbidden || status == http.StatusUnauthorized:
		return retry.Permanent(fmt.Errorf("s3: credentials rejected by %s for bucket %q: %w", s.server, s.bucket, err))
	case status == http.StatusMovedPermanently:
		var respErr *awshttp.ResponseError
		errors.As(err, &respErr)
		region := respErr.Response.Header.Get("X-Amz-Bucket-Region")
		return retry.Permanent(fmt.Errorf("s3: bucket %q is in region %q, not the configured one: %w", s.bucket, region, err))
	}
	return s.classify("check bucket", "", err)
}

// httpStatus is the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// apiCode is the S3 error code of an SDK error, or "".
func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// retryAfter parses a Retry-After header in its delay-seconds form, the only
// one S3-compatible servers send.
func retryAfter(v string) (time.Duration, bool) {
	secs, err := strconv.Atoi(v)
	if err != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

func isNotExist(err error) bool { return errors.Is(err, storage.ErrNotExist) }
