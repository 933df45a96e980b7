package s3

import (
	"encoding/hex"
	"testing"

	"github.com/reelvault/reelvault/storage"
	"github.com/reelvault/reelvault/storage/storagetest"
)

func TestHashingConformance(t *testing.T) {
	storagetest.RunHashing(t, func(t *testing.T) storage.Store { return newTestStore(t) })
}

// TestPutSHA256Verified pins which uploads the server checks against the
// returned digest: a body that fits in one part goes up signed with it,
// whether its size was declared or not; a multipart upload does not (its
// parts are signed one by one).
func TestPutSHA256Verified(t *testing.T) {
	s := newTestStore(t)
	tests := []struct {
		name         string
		size         int64 // of the payload
		declared     int64
		wantVerified bool
	}{
		{"small known size", 1000, 1000, true},
		{"one part known size", MinPartSize, MinPartSize, true},
		{"small unknown size", 1000, -1, true},
		{"multi-part known size", MinPartSize + 1, MinPartSize + 1, false},
		{"multi-part unknown size", 2*MinPartSize + 1, -1, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.PutSHA256(t.Context(), "verified/"+tt.name, storagetest.Payload(uint64(i), tt.size), tt.declared, storage.PutOptions{})
			if err != nil {
				t.Fatalf("PutSHA256: %v", err)
			}
			if res.Verified != tt.wantVerified {
				t.Errorf("Verified = %v, want %v", res.Verified, tt.wantVerified)
			}
			if got, want := hex.EncodeToString(res.SHA256[:]), storagetest.PayloadSHA256(t, uint64(i), tt.size); got != want {
				t.Errorf("sha256 = %s, want %s", got, want)
			}
		})
	}
}

// TestVerifiedPutRefusesDamagedBody sends uploads through a proxy that flips
// one bit of every PUT body: the server must refuse them, and no object may
// appear, or Verified would be a claim nobody checked. A multipart upload
// (not Verified: its digest is the driver's) is refused too, part by part.
func TestVerifiedPutRefusesDamagedBody(t *testing.T) {
	env := storagetest.S3Server(t)
	bucket := storagetest.NewBucket(t, env)
	direct, err := New(t.Context(), testConfig(env, bucket))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	proxyURL, damaged := storagetest.CorruptingProxy(t, env.Endpoint)
	cfg := testConfig(env, bucket)
	cfg.Endpoint = proxyURL
	viaProxy, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New via proxy: %v", err)
	}
	for i, size := range []int64{1000, MinPartSize, 2*MinPartSize + 1} {
		key := "damaged/" + hex.EncodeToString([]byte{byte(i)})
		before := damaged.Load()
		res, err := viaProxy.PutSHA256(t.Context(), key, storagetest.Payload(uint64(i), size), size, storage.PutOptions{})
		if damaged.Load() == before {
			t.Fatalf("size %d: the proxy damaged no body (PutSHA256 = %+v, %v)", size, res, err)
		}
		if err == nil {
			t.Errorf("size %d: PutSHA256 of a damaged body succeeded (Verified %v)", size, res.Verified)
		}
		if _, err := direct.Stat(t.Context(), key); err == nil {
			t.Errorf("size %d: an object exists after the server was sent a damaged body", size)
		}
	}
}
