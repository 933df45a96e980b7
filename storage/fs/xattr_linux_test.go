package fs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// storedXattr returns the attributes' extended attribute of the file at
// path, read by path (the test knows where the file is), or false.
func storedXattr(t *testing.T, path string) ([]byte, bool) {
	t.Helper()
	buf := make([]byte, maxXattr)
	n, err := unix.Lgetxattr(path, xattrName, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP):
		return nil, false
	case err != nil:
		t.Fatalf("getxattr %s: %v", path, err)
	}
	return buf[:n], true
}

// requireXattrs skips a test of the extended-attribute path where dir's
// filesystem keeps no user extended attributes (an old tmpfs, overlayfs on
// some kernels), and fails it under CI=true, where the temp dir is ext4
// and a skip would hide that the path went untested.
func requireXattrs(t *testing.T, dir string) {
	t.Helper()
	err := xattrsWork(t, dir)
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the temp dir %s keeps no user extended attributes: %v", dir, err)
	}
	t.Skipf("the temp dir %s keeps no user extended attributes (%v): this test is for filesystems that do", dir, err)
}

// xattrsWork says why dir's filesystem keeps no user extended attributes,
// or nil when it does.
func xattrsWork(t *testing.T, dir string) error {
	t.Helper()
	probe := filepath.Join(dir, "xattr-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	return unix.Setxattr(probe, xattrName, []byte("{}"), 0)
}
