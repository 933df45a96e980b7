package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/reelvault/reelvault/storage"
)

// Put implements storage.Store.
//
// On AWS (no custom endpoint) a known size up to 5 GiB goes up as one
// PutObject that streams r with Content-Length: nothing is buffered, and S3
// rejects a body shorter than Content-Length (IncompleteBody), so a source
// that dies mid-way leaves no object.
//
// On a custom endpoint a known size up to PartSize is read into memory,
// hashed once, and sent as one PutObject whose signature carries that
// SHA-256 (putSigned); anything else is a multipart upload of signed parts
// read the same way (putMultipart), which S3 publishes only on
// CompleteMultipartUpload and which is aborted on failure. On AWS a body of
// unknown size or over 5 GiB goes through the transfermanager, in PartSize
// chunks held in memory. Memory is bounded by PartSize, not by the object.
//
// Why not stream on a custom endpoint: over plain http the SDK can only send
// a stream as UNSIGNED-PAYLOAD, and then atomicity rests on the server
// checking Content-Length. Not all do: versitygw v1.8.0 (on fasthttp, whose
// fixed-length request stream reports a connection closed early as a clean
// io.EOF) commits the truncated body as the object. Buffered requests carry
// a signed payload hash, and a multipart upload is never completed after a
// failed read, so no server can publish a partial video.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	_, err := s.put(ctx, key, r, size, opts, false)
	return err
}

// PutSHA256 implements storage.HashingPutter. On a custom endpoint a body
// that fits in one PutObject is verified by the server (the signed payload
// hash is the digest returned). On AWS the streamed PutObject carries a
// trailing x-amz-checksum-sha256 instead of the default CRC32, which S3
// checks: one hash, verified. A multipart upload hashes the whole body as
// well as each part: SHA-256 does not compose, so the parts' signing hashes
// cannot make the object's.
func (s *Store) PutSHA256(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.PutResult, error) {
	return s.put(ctx, key, r, size, opts, true)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions, wantSum bool) (storage.PutResult, error) {
	body := storage.NewSizedReader(r, size)
	var res storage.PutResult
	var err error
	switch {
	case !s.streamPut && size >= 0 && size <= s.partSize:
		res, err = s.putSigned(ctx, key, body, size, opts)
	case !s.streamPut:
		res, err = s.putMultipart(ctx, key, body, size, opts, wantSum)
	case size >= 0 && size <= maxSinglePut:
		res, err = s.putStream(ctx, key, body, size, opts, wantSum)
	default:
		var src io.Reader = body
		var h hash.Hash
		if wantSum {
			h = sha256.New()
			src = io.TeeReader(body, h)
		}
		if err = s.putParts(ctx, key, src, size, opts); h != nil {
			h.Sum(res.SHA256[:0])
		}
	}
	if err == nil {
		return res, nil
	}
	if body.Err() != nil {
		// The body failed (the source died, or it had the wrong size): that
		// is the cause, whatever the SDK made of the aborted request.
		return storage.PutResult{}, fmt.Errorf("s3: put %q: read body: %w", key, body.Err())
	}
	return storage.PutResult{}, s.classify("put", key, err)
}

// putSigned reads body (at most one part) into memory, hashes it once, and
// sends it as one PutObject that declares that hash: the SDK's own payload
// hash (ComputePayloadSHA256, which skips a hash already set) is not
// computed, the signature covers it, and the server refuses a body whose
// SHA-256 differs. A bytes.Reader body lets the SDK retry the request.
func (s *Store) putSigned(ctx context.Context, key string, body *storage.SizedReader, size int64, opts storage.PutOptions) (storage.PutResult, error) {
	buf, err := s.bufs.ReadPart(body, size)
	if err != nil {
		return storage.PutResult{}, err
	}
	defer s.bufs.Release(buf)
	res := storage.PutResult{SHA256: sha256.Sum256(buf), Verified: true}
	return res, s.putObject(ctx, key, buf, res.SHA256, opts)
}

// withPayloadHash sets the SigV4 payload hash of a request before the
// SDK's payload-hash step, which then keeps it. Over https the SDK would
// otherwise send UNSIGNED-PAYLOAD; with the hash set it signs it there too.
func withPayloadHash(hash string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("reelvault.PayloadHash",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				return next.HandleFinalize(v4.SetPayloadHash(ctx, hash), in)
			}), payloadHashStep, middleware.Before)
	}
}

// payloadHashStep is the ID of the SDK's finalize step that computes the
// payload hash (aws/signer/v4 computePayloadHashMiddlewareID, unexported).
const payloadHashStep = "ComputePayloadHash"

// putStream sends body as one PutObject without buffering it. With
// wantSum the SDK's trailing checksum is SHA-256, and its value, which S3
// verified, is the digest returned.
func (s *Store) putStream(ctx context.Context, key string, body *storage.SizedReader, size int64, opts storage.PutOptions, wantSum bool) (storage.PutResult, error) {
	if size == 0 {
		// net/http sends no body for Content-Length 0 and so never reads
		// it; check here that it is empty.
		if _, err := body.Read(nil); err != io.EOF {
			return storage.PutResult{}, err
		}
	}
	var algorithm types.ChecksumAlgorithm
	if wantSum {
		algorithm = types.ChecksumAlgorithmSha256
	}
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             &s.bucket,
		Key:                &key,
		Body:               body,
		ChecksumAlgorithm:  algorithm,
		ContentLength:      aws.Int64(size),
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
		Tagging:            tagging(opts.Tags),
	},
		// SigV4 signs a hash of the payload, which the SDK computes by
		// reading the body and seeking back; a stream cannot seek, and over
		// plain http the SDK fails with "unseekable stream is not supported
		// without TLS". UNSIGNED-PAYLOAD skips the hash; over https the
		// SDK's trailing checksum (CRC32 by default, SHA-256 for
		// PutSHA256) still covers the bytes.
		s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware),
		// A retry would have to rewind the stream, which fails and hides
		// the real error behind "failed to rewind transport stream".
		// Retrying the whole Put is the caller's decision.
		func(o *s3.Options) { o.RetryMaxAttempts = 1 },
	)
	if err != nil || !wantSum {
		return storage.PutResult{}, err
	}
	return sentSHA256(out.ResultMetadata)
}

// sentSHA256 is the SHA-256 checksum the SDK computed over the body it sent
// and that S3 accepted.
func sentSHA256(md middleware.Metadata) (storage.PutResult, error) {
	var res storage.PutResult
	sums, _ := s3.GetComputedInputChecksumsMetadata(md)
	b64, ok := sums.ComputedChecksums[string(types.ChecksumAlgorithmSha256)]
	if !ok {
		return res, errors.New("the SDK computed no SHA-256 checksum of the body")
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != len(res.SHA256) {
		return res, fmt.Errorf("the SDK's SHA-256 checksum %q is not one", b64)
	}
	copy(res.SHA256[:], b)
	res.Verified = true
	return res, nil
}

// putParts sends body through the transfermanager in PartSize chunks: a
// multipart upload, or one PutObject when a body of unknown size turns out
// to fit in one part.
func (s *Store) putParts(ctx context.Context, key string, body io.Reader, size int64, opts storage.PutOptions) error {
	in := &transfermanager.UploadObjectInput{
		Bucket:             &s.bucket,
		Key:                &key,
		Body:               body,
		ContentType:        nonEmpty(opts.ContentType),
		ContentDisposition: nonEmpty(opts.ContentDisposition),
		Metadata:           opts.Metadata,
		Tagging:            tagging(opts.Tags),
	}
	if size > 0 {
		// Lets the transfermanager raise the part size so the object fits
		// in 10,000 parts.
		in.ContentLength = aws.Int64(size)
	}
	// transfermanager v0.5.7 aborts the multipart upload itself when a part
	// or the body fails (multiUploader.complete calls fail), with a fresh
	// context thanks to FailTimeout; AbortIncompleteUploads sweeps what a
	// crash leaves behind.
	_, err := s.uploader.UploadObject(ctx, in)
	return err
}

// tagging encodes tags for the x-amz-tagging header: a URL query string.
func tagging(tags map[string]string) *string {
	if len(tags) == 0 {
		return nil
	}
	v := make(url.Values, len(tags))
	for k, val := range tags {
		v.Set(k, val)
	}
	return aws.String(v.Encode())
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
