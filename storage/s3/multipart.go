package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/reelvault/reelvault/storage"
)

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

// abortTimeout bounds the abort of a failed multipart upload, which runs
// on a context of its own so that a cancelled Put still cleans up.
const abortTimeout = time.Minute

// putMultipart sends body to a custom endpoint in parts of PartSize (raised
// for a declared size that would need more than 10,000), each read into a
// pooled buffer, hashed once and sent as an UploadPart signed with that hash;
// the next part is read while the previous one uploads, so memory is two
// parts. A body of unknown size that ends within the first part is one
// signed PutObject instead. The upload is completed only after every part
// was sent and the body ended where it should; otherwise it is aborted.
//
// It replaces the transfermanager on custom endpoints: that one read the
// first part with io.ReadAll (a buffer grown from 512 bytes, copied and
// zeroed at every step) and allocated its part buffers afresh per upload.
func (s *Store) putMultipart(ctx context.Context, key string, body *storage.SizedReader, size int64, opts storage.PutOptions, wantSum bool) (storage.PutResult, error) {
	partSize := multipartPartSize(s.partSize, size)
	var whole hash.Hash
	if wantSum {
		whole = sha256.New()
	}
	first, err := s.bufs.Fill(body, partSize)
	if err == io.EOF && size < 0 {
		defer s.bufs.Release(first)
		res := storage.PutResult{SHA256: sha256.Sum256(first), Verified: true}
		return res, s.putObject(ctx, key, first, res.SHA256, opts)
	}
	if err != nil && err != io.EOF {
		return storage.PutResult{}, err
	}
	out, cerr := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             &s.bucket,
		Key:                &key,
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
		Tagging:            tagging(opts.Tags),
	})
	if cerr != nil {
		s.bufs.Release(first)
		return storage.PutResult{}, cerr
	}
	up := &partUploader{s: s, key: key, id: out.UploadId}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(1) // one part in flight, the next one being read
	buf, number := first, int32(1)
	for {
		if whole != nil {
			whole.Write(buf)
		}
		last := err == io.EOF
		if len(buf) > 0 || number == 1 {
			part, n := buf, number
			g.Go(func() error { defer s.bufs.Release(part); return up.send(gctx, n, part) })
		} else {
			s.bufs.Release(buf)
		}
		if last {
			break
		}
		if number++; number > maxParts {
			err = fmt.Errorf("body is longer than %d parts of %d bytes", maxParts, partSize)
			break
		}
		if gctx.Err() != nil {
			break // a part failed; Wait says why
		}
		if buf, err = s.bufs.Fill(body, partSize); err != nil && err != io.EOF {
			break
		}
	}
	if werr := g.Wait(); werr != nil && (err == nil || err == io.EOF) {
		err = werr
	}
	if err == nil || err == io.EOF {
		err = up.complete(ctx)
	}
	if err != nil {
		up.abort(ctx)
		return storage.PutResult{}, err
	}
	var res storage.PutResult
	if whole != nil {
		whole.Sum(res.SHA256[:0])
	}
	return res, nil
}

// multipartPartSize is the part size for a declared size: the configured
// one, raised to the next MiB that fits the object in 10,000 parts.
func multipartPartSize(partSize, size int64) int64 {
	if size <= partSize*maxParts {
		return partSize
	}
	need := (size + maxParts - 1) / maxParts
	return (need + 1<<20 - 1) &^ (1<<20 - 1)
}

// putObject sends buf as one PutObject signed with its SHA-256, sum.
func (s *Store) putObject(ctx context.Context, key string, buf []byte, sum [32]byte, opts storage.PutOptions) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             &s.bucket,
		Key:                &key,
		Body:               bytes.NewReader(buf),
		ContentLength:      aws.Int64(int64(len(buf))),
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
		Tagging:            tagging(opts.Tags),
	}, s3.WithAPIOptions(withPayloadHash(hex.EncodeToString(sum[:]))))
	return err
}

// partUploader is one multipart upload in progress.
type partUploader struct {
	s   *Store
	key string
	id  *string

	mu    sync.Mutex
	parts []types.CompletedPart
}

// send uploads one part, signed with its SHA-256 (the SDK's payload hash,
// computed here once instead), and records its ETag.
func (u *partUploader) send(ctx context.Context, number int32, part []byte) error {
	sum := sha256.Sum256(part)
	out, err := u.s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        &u.s.bucket,
		Key:           &u.key,
		UploadId:      u.id,
		PartNumber:    aws.Int32(number),
		Body:          bytes.NewReader(part),
		ContentLength: aws.Int64(int64(len(part))),
	}, s3.WithAPIOptions(withPayloadHash(hex.EncodeToString(sum[:]))))
	if err != nil {
		return fmt.Errorf("part %d: %w", number, err)
	}
	u.mu.Lock()
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(number)})
	u.mu.Unlock()
	return nil
}

// complete publishes the object from its parts, in order.
func (u *partUploader) complete(ctx context.Context) error {
	u.mu.Lock()
	parts := slices.SortedFunc(slices.Values(u.parts), func(a, b types.CompletedPart) int {
		return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber))
	})
	u.mu.Unlock()
	_, err := u.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &u.s.bucket,
		Key:             &u.key,
		UploadId:        u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// abort drops the upload's parts. It runs on a context of its own: the
// Put's may be the reason for the abort. A failed abort leaves an upload
// that AbortIncompleteUploads sweeps later.
func (u *partUploader) abort(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, _ = u.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &u.s.bucket, Key: &u.key, UploadId: u.id,
	})
}
