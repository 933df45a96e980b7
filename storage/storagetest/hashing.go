package storagetest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/reelvault/reelvault/storage"
)

// RunHashing checks the storage.HashingPutter contract on top of Put's:
// PutSHA256 stores what Put would, the digest it returns is that of exactly
// the bytes stored, on every upload path (single request, multipart, known
// and unknown size), and a failing or wrongly sized body fails it as it
// fails Put. newStore is as for Run, and its stores must implement
// storage.HashingPutter. Which paths the server verifies is
// driver-specific; drivers test res.Verified themselves.
func RunHashing(t *testing.T, newStore func(t *testing.T) storage.Store) {
	hashing := func(t *testing.T) (storage.Store, storage.HashingPutter) {
		s := newStore(t)
		hp, ok := s.(storage.HashingPutter)
		if !ok {
			t.Fatalf("%T does not implement storage.HashingPutter", s)
		}
		return s, hp
	}
	t.Run("Digest", func(t *testing.T) { t.Parallel(); testDigest(t, hashing) })
	t.Run("FailingReader", func(t *testing.T) { t.Parallel(); testHashingFailures(t, hashing) })
	t.Run("Attributes", func(t *testing.T) { t.Parallel(); testHashingAttributes(t, hashing) })
}

// testHashingAttributes checks that every upload path stores the object's
// attributes, not only the small one the main suite tries.
func testHashingAttributes(t *testing.T, hashing func(t *testing.T) (storage.Store, storage.HashingPutter)) {
	store, hp := hashing(t)
	opts := storage.PutOptions{
		ContentType:        "video/mp4",
		ContentDisposition: `attachment; filename="cat video.mp4"`,
		Metadata:           map[string]string{"task-id": "tsk_01HZX", "model": "veo-3"},
		Tags:               map[string]string{"provider": "veo"},
	}
	for i, size := range []struct{ size, declared int64 }{{10, 10}, {10, -1}, {12 * MiB, 12 * MiB}, {12 * MiB, -1}} {
		t.Run(fmt.Sprintf("%d bytes declared %d", size.size, size.declared), func(t *testing.T) {
			key := fmt.Sprintf("hashattrs/%d", i)
			if _, err := hp.PutSHA256(t.Context(), key, Payload(uint64(i), size.size), size.declared, opts); err != nil {
				t.Fatalf("PutSHA256: %v", err)
			}
			info := mustStat(t, store, key)
			if info.ContentType != opts.ContentType || info.ContentDisposition != opts.ContentDisposition ||
				!maps.Equal(info.Metadata, opts.Metadata) {
				t.Errorf("Stat = type %q, disposition %q, metadata %v; want %q, %q, %v", info.ContentType,
					info.ContentDisposition, info.Metadata, opts.ContentType, opts.ContentDisposition, opts.Metadata)
			}
		})
	}
}

func testDigest(t *testing.T, hashing func(t *testing.T) (storage.Store, storage.HashingPutter)) {
	store, hp := hashing(t)
	tests := []struct {
		name      string
		size      int64
		knownSize bool
	}{
		{"empty known size", 0, true},
		{"empty unknown size", 0, false},
		{"small known size", 1000, true},
		{"small unknown size", 1000, false},
		{"one part known size", 5 * MiB, true},
		{"multi-part known size", 12 * MiB, true},
		{"multi-part unknown size", 12*MiB + 17, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("digest/%d.bin", i)
			declared := int64(-1)
			if tt.knownSize {
				declared = tt.size
			}
			spy := &eofSpy{r: Payload(uint64(i), tt.size)}
			res, err := hp.PutSHA256(t.Context(), key, spy, declared, storage.PutOptions{})
			if err != nil {
				t.Fatalf("PutSHA256(%q, size %d): %v", key, declared, err)
			}
			if !spy.sawEOF {
				t.Errorf("PutSHA256 returned before reading the body to io.EOF")
			}
			want := PayloadSHA256(t, uint64(i), tt.size)
			if got := hex.EncodeToString(res.SHA256[:]); got != want {
				t.Errorf("PutSHA256 returned sha256 %s, want %s (the payload's)", got, want)
			}
			if got := ObjectSHA256(t, store, key); got != want {
				t.Errorf("sha256 of Open(%q) = %s, want %s", key, got, want)
			}
			if info := mustStat(t, store, key); info.Size != tt.size {
				t.Errorf("Stat(%q).Size = %d, want %d", key, info.Size, tt.size)
			}
		})
	}
}

func testHashingFailures(t *testing.T, hashing func(t *testing.T) (storage.Store, storage.HashingPutter)) {
	store, hp := hashing(t)
	tests := []struct {
		name     string
		size     int64 // bytes the source has
		declared int64
		fail     bool // the source fails after half its bytes
	}{
		{"small known size fails", 1000, 1000, true},
		{"small unknown size fails", 1000, -1, true},
		{"multi-part known size fails", 12 * MiB, 12 * MiB, true},
		{"short small", 999, 1000, false},
		{"long small", 1001, 1000, false},
		{"short one part", 5*MiB - 1, 5 * MiB, false},
		{"long one part", 5*MiB + 1, 5 * MiB, false},
		{"short multi-part", 7 * MiB, 12 * MiB, false},
		{"long multi-part", 12*MiB + 1, 12 * MiB, false},
		{"multi-part unknown size fails", 12 * MiB, -1, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("hashfail/%d.bin", i)
			sourceErr := fmt.Errorf("signed URL expired (source %d)", i)
			body := Payload(uint64(i), tt.size)
			if tt.fail {
				body = &failingReader{r: body, n: tt.size / 2, err: sourceErr}
			}
			_, err := hp.PutSHA256(t.Context(), key, body, tt.declared, storage.PutOptions{})
			switch {
			case err == nil:
				t.Fatalf("PutSHA256 of %d bytes declared %d (source fails: %v): got nil error", tt.size, tt.declared, tt.fail)
			case tt.fail && !errors.Is(err, sourceErr):
				t.Errorf("PutSHA256 with a failing source: got %v, want an error wrapping %q", err, sourceErr)
			}
			assertNotExist(t, store, key)
		})
	}
}
