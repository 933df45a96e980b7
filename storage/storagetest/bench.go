package storagetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/reelvault/reelvault/storage"
)

// BenchPut measures Put of size bytes from memory, the per-request and per-byte
// cost of a driver (client and server together; a CPU profile of the test
// binary shows the client side). Keys cycle, so objects are overwritten.
func BenchPut(b *testing.B, store storage.Store, size int) {
	body := bytes.Repeat([]byte("reelvault"), size/9+1)[:size]
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("bench/put-%d/%d", size, i%16)
		if err := store.Put(b.Context(), key, bytes.NewReader(body), int64(size), storage.PutOptions{ContentType: "video/mp4"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchStat measures Stat of an existing object: one request, no body.
func BenchStat(b *testing.B, store storage.Store) {
	if err := store.Put(b.Context(), "bench/stat", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := store.Stat(b.Context(), "bench/stat"); err != nil {
			b.Fatal(err)
		}
	}
}
