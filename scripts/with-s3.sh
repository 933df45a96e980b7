#!/usr/bin/env bash
# with-s3.sh CMD...: run CMD with a throwaway S3 server on loopback.
#
# Starts versitygw (posix backend, data in a fresh temp dir) on a free
# 127.0.0.1 port, exports REELVAULT_TEST_S3_ENDPOINT, _ACCESS_KEY and
# _SECRET_KEY (read by storagetest.S3Server), runs CMD, then stops the server
# and removes the temp dir. The exit status is CMD's.
#
# Why versitygw: one static Go binary, installed with the toolchain we already
# have, speaks enough S3 (multipart, tagging, presign, aws-chunked) for the
# conformance suite, and needs no container runtime.
set -euo pipefail

readonly VGW_VERSION=v1.8.0
readonly BIN_DIR="${HOME}/.cache/reelvault/bin"
readonly VGW="${BIN_DIR}/versitygw"
readonly START_TIMEOUT_S=30

if [[ $# -eq 0 ]]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi

if [[ ! -x "${VGW}" ]]; then
	echo "with-s3: installing versitygw ${VGW_VERSION} into ${BIN_DIR} (about 80 s the first time)" >&2
	mkdir -p "${BIN_DIR}"
	GOBIN="${BIN_DIR}" go install "github.com/versity/versitygw/cmd/versitygw@${VGW_VERSION}"
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/reelvault-s3.XXXXXX")"
server_pid=""

cleanup() {
	local status=$?
	if [[ -n "${server_pid}" ]] && kill -0 "${server_pid}" 2>/dev/null; then
		kill "${server_pid}" 2>/dev/null || true
		wait "${server_pid}" 2>/dev/null || true
	fi
	rm -rf "${workdir}"
	exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: a random high port nobody listens on right now. Another process
# may still take it before versitygw binds; start_server then tries again.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! port_in_use "${port}"; then
			echo "${port}"
			return 0
		fi
	done
	echo "with-s3: no free port found" >&2
	return 1
}

# healthy PORT: the gateway answers its health endpoint.
healthy() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/health" 2>/dev/null
	else
		port_in_use "$1"
	fi
}

access_key="reelvault-test"
secret_key="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
log="${workdir}/versitygw.log"
mkdir -p "${workdir}/data"

# start_server: start versitygw on a free port and wait until it is healthy.
# Returns non-zero (leaving its log in place) when it exits or never answers.
start_server() {
	port="$(free_port)"
	ROOT_ACCESS_KEY="${access_key}" ROOT_SECRET_KEY="${secret_key}" \
		VGW_PORT="127.0.0.1:${port}" VGW_HEALTH=/health \
		"${VGW}" --quiet posix "${workdir}/data" >>"${log}" 2>&1 &
	server_pid=$!
	local deadline=$((SECONDS + START_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		if ! kill -0 "${server_pid}" 2>/dev/null; then
			wait "${server_pid}" 2>/dev/null || true
			server_pid=""
			return 1
		fi
		if healthy "${port}"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

started=false
for _ in 1 2 3; do
	if start_server; then
		started=true
		break
	fi
	# Exited (port taken between probe and bind, typically): try another port.
	# Still running but never healthy: give up below.
	[[ -z "${server_pid}" ]] || break
done
if [[ "${started}" != true ]]; then
	echo "with-s3: versitygw failed to start or did not answer /health within ${START_TIMEOUT_S}s; its log:" >&2
	cat "${log}" >&2 || true
	exit 1
fi

export REELVAULT_TEST_S3_ENDPOINT="http://127.0.0.1:${port}"
export REELVAULT_TEST_S3_ACCESS_KEY="${access_key}"
export REELVAULT_TEST_S3_SECRET_KEY="${secret_key}"

"$@"
