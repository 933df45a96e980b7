#!/usr/bin/env bash
# ensure-exfat.sh: make sure exfatprogs and exfat-fuse are installed, so the
# fs driver's case-insensitive test (storage/fs/case_test.go) runs on a real
# case-folding filesystem: an exFAT image mounted through FUSE.
#
# Quick and silent when the tools are there. Otherwise, as root, installs
# them with apt-get. Without root (or apt-get) it only says so and exits 0:
# the test then skips, except under CI=true, where it fails.
set -euo pipefail

if command -v mkfs.exfat >/dev/null 2>&1 && command -v mount.exfat-fuse >/dev/null 2>&1; then
	exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-exfat: mkfs.exfat or mount.exfat-fuse is missing and this is not root with apt-get;" \
		"install them with: sudo apt-get install -y exfatprogs exfat-fuse (the case test skips without them)" >&2
	exit 0
fi

echo "ensure-exfat: installing exfatprogs and exfat-fuse (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends exfatprogs exfat-fuse >/dev/null
