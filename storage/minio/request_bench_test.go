package minio

import (
	"testing"

	"github.com/reelvault/reelvault/storage/storagetest"
)

// The driver's cost per request and per byte against the test server (run
// under scripts/with-s3.sh): a task.json, a video of one part (the default
// 16 MiB parts, as reelvault runs), one of three parts, and a Stat.

func BenchmarkMinioPut3KiB(b *testing.B) { storagetest.BenchPut(b, newBenchStore(b), 3<<10) }

func BenchmarkMinioPut8MiB(b *testing.B) { storagetest.BenchPut(b, newBenchStore(b), 8<<20) }

func BenchmarkMinioPut40MiB(b *testing.B) { storagetest.BenchPut(b, newBenchStore(b), 40<<20) }

func BenchmarkMinioStat(b *testing.B) { storagetest.BenchStat(b, newBenchStore(b)) }

func newBenchStore(b *testing.B) *Store {
	b.Helper()
	env := storagetest.S3Server(b)
	cfg := testConfig(env, storagetest.NewBucket(b, env))
	cfg.PartSize = DefaultPartSize
	s, err := New(b.Context(), cfg)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	return s
}
