package storagetest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestS3ServerWithoutServer runs S3Server in a child test process with no
// server configured: it must skip normally and fail under CI=true, so CI
// cannot pass with the real-server suites silently skipped.
func TestS3ServerWithoutServer(t *testing.T) {
	if os.Getenv("STORAGETEST_CHILD") == "1" {
		S3Server(t)
		return
	}
	tests := []struct {
		name     string
		ci       string
		wantFail bool
		wantOut  string
	}{
		{"local", "", false, "SKIP"},
		{"CI", "true", true, "CI=true but no S3 test server: run tests via `make test`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestS3ServerWithoutServer$", "-test.v")
			cmd.Env = append(os.Environ(),
				"STORAGETEST_CHILD=1", "CI="+tt.ci,
				"REELVAULT_TEST_S3_ENDPOINT=", "REELVAULT_TEST_S3_ACCESS_KEY=", "REELVAULT_TEST_S3_SECRET_KEY=")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail || !strings.Contains(string(out), tt.wantOut) {
				t.Errorf("child failed=%v, output:\n%s\nwant failed=%v and output containing %q", failed, out, tt.wantFail, tt.wantOut)
			}
		})
	}
}
