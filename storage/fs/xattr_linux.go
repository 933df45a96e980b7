package fs

import (
	"errors"

	"golang.org/x/sys/unix"
)

// fgetxattr reads the attributes' extended attribute of the open file fd
// into dest (the fd-based call: no path, so no symlink, is involved).
func fgetxattr(fd int, dest []byte) (int, error) { return unix.Fgetxattr(fd, xattrName, dest) }

// fsetxattr sets the attributes' extended attribute of the open file fd.
func fsetxattr(fd int, data []byte) error { return unix.Fsetxattr(fd, xattrName, data, 0) }

// xattrAbsent reports the errors that mean a file holds no such extended
// attribute: none set (ENODATA), or a filesystem that keeps none
// (EOPNOTSUPP, which is ENOTSUP on Linux; ENOSYS from some FUSE servers).
func xattrAbsent(err error) bool {
	return errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)
}
