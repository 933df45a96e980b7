package s3

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

// TestCancelledMultipartIsAborted cancels the Put's context once the first
// part is on its way: the upload must be aborted all the same (on a context
// of its own), leaving no parts behind.
func TestCancelledMultipartIsAborted(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// After the first part (5 MiB) the body cancels the Put and fails as a
	// download on that context would.
	body := io.MultiReader(storagetest.Payload(1, 6*storagetest.MiB), cancelReader{cancel: cancel, ctx: ctx})
	if err := s.Put(ctx, "mpu/cancelled.mp4", body, 12*storagetest.MiB, storage.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	out, err := s.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &s.bucket})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("unfinished uploads after a cancelled Put: %d, want 0", len(out.Uploads))
	}
}

// cancelReader cancels its context and fails with its error.
type cancelReader struct {
	cancel context.CancelFunc
	ctx    context.Context
}

func (r cancelReader) Read([]byte) (int, error) {
	r.cancel()
	return 0, r.ctx.Err()
}

func TestMultipartPartSize(t *testing.T) {
	tests := []struct{ partSize, size, want int64 }{
		{DefaultPartSize, -1, DefaultPartSize},
		{DefaultPartSize, 2 << 30, DefaultPartSize},
		{DefaultPartSize, DefaultPartSize * maxParts, DefaultPartSize},
		// 200 GiB / 10,000 = 20.48 MiB, raised to the next MiB.
		{DefaultPartSize, 200 << 30, 21 << 20},
		{MinPartSize, 5<<30 + 1, MinPartSize},
		{MinPartSize, 60 << 30, 7 << 20},
	}
	for _, tt := range tests {
		got := multipartPartSize(tt.partSize, tt.size)
		if got != tt.want || (tt.size > 0 && got*maxParts < tt.size) {
			t.Errorf("multipartPartSize(%d, %d) = %d, want %d", tt.partSize, tt.size, got, tt.want)
		}
	}
}
