#!/usr/bin/env bash
# with-postgres.sh CMD...: run CMD with a throwaway PostgreSQL 15 server on
# loopback.
#
# Initialises a cluster in a fresh temp dir (superuser role "reelvault" with a
# generated password, scram-sha-256 on every connection, so tests can also
# check a wrong password), starts it on a free 127.0.0.1 port and exports:
#
#	REELVAULT_TEST_PG_URL    admin URL, postgres://reelvault:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable
#	                         (read by catalogtest.PostgresURL, which makes one database per test)
#	REELVAULT_TEST_PG_STOP   a script that stops this server (fast shutdown)
#	REELVAULT_TEST_PG_START  a script that starts it again on the same port and waits until it is ready
#	                         (both used by catalogtest.RestartPostgres)
#
# then runs CMD, stops the server and removes the temp dir. The exit status is
# CMD's. Nests with with-s3.sh: scripts/with-s3.sh scripts/with-postgres.sh go test ./...
#
# Why Debian's packaged server driven by hand: it is one apt-get away on every
# machine we build on, and a private cluster per run (fsync off, many
# connections) cannot touch, or be touched by, a system cluster. The server
# refuses to run as root, so as root it runs as the unprivileged "postgres"
# user (created when absent); as any other user it runs as that user.
set -euo pipefail

readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly PG_ROLE=reelvault
readonly PG_RUN_USER=postgres
readonly START_TIMEOUT_S=30

if [[ $# -eq 0 ]]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi

is_root=false
[[ "$(id -u)" -eq 0 ]] && is_root=true

if [[ ! -x "${PG_BIN}/initdb" || ! -x "${PG_BIN}/pg_ctl" || ! -x "${PG_BIN}/pg_isready" ]]; then
	if [[ "${is_root}" != true ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "with-postgres: ${PG_BIN}/initdb or pg_ctl is missing and this is not root with apt-get;" \
			"install them with: sudo apt-get install -y postgresql" >&2
		exit 1
	fi
	echo "with-postgres: installing Debian's postgresql (once)" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Refresh the package lists only when they do not know the package yet,
	# or when an install from them fails (stale lists point at gone files).
	if ! apt-cache show postgresql-15 >/dev/null 2>&1; then
		apt-get update -qq
	fi
	if ! apt-get install -y -qq postgresql >/dev/null; then
		apt-get update -qq
		apt-get install -y -qq postgresql >/dev/null
	fi
	if [[ ! -x "${PG_BIN}/initdb" ]]; then
		echo "with-postgres: installed postgresql but ${PG_BIN}/initdb is still missing (not version 15?)" >&2
		exit 1
	fi
fi

# As root, every server binary runs as PG_RUN_USER.
if [[ "${is_root}" == true ]] && ! id -u "${PG_RUN_USER}" >/dev/null 2>&1; then
	echo "with-postgres: creating system user ${PG_RUN_USER} to run the server" >&2
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "${PG_RUN_USER}"
fi
# runuser keeps the environment: PG* variables of the caller must not
# redirect pg_ctl, initdb or pg_isready to another cluster.
unset PGDATA PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGOPTIONS

# run_pg CMD...: run CMD as the server's user, from a directory it can enter.
run_pg() {
	if [[ "${is_root}" == true ]]; then
		(cd "${workdir}" && runuser -u "${PG_RUN_USER}" -- "$@")
	else
		(cd "${workdir}" && "$@")
	fi
}

# make_workdir BASE: a fresh temp dir under BASE, owned by the server's user.
make_workdir() {
	local dir
	dir="$(mktemp -d "$1/reelvault-pg.XXXXXX")"
	chmod 700 "${dir}"
	if [[ "${is_root}" == true ]]; then
		chown "${PG_RUN_USER}:" "${dir}"
	fi
	echo "${dir}"
}

workdir="$(make_workdir "${TMPDIR:-/tmp}")"
server_started=false

cleanup() {
	local status=$?
	if [[ "${server_started}" == true ]] && run_pg "${PG_BIN}/pg_ctl" status -D "${workdir}/data" >/dev/null 2>&1; then
		run_pg "${PG_BIN}/pg_ctl" stop -D "${workdir}/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
	fi
	rm -rf "${workdir}"
	exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TMPDIR under a private home (root's, say) is not traversable by the
# server's user: fall back to /tmp, which always is.
if ! run_pg test -w "${workdir}" 2>/dev/null; then
	rm -rf "${workdir}"
	workdir="$(make_workdir /tmp)"
	if ! run_pg test -w "${workdir}" 2>/dev/null; then
		echo "with-postgres: user ${PG_RUN_USER} cannot write to ${workdir}" >&2
		exit 1
	fi
fi

readonly data="${workdir}/data"
readonly log="${workdir}/postgres.log"
password="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# The password reaches initdb through a file only the server's user can read,
# never through the command line.
(umask 077 && printf '%s\n' "${password}" >"${workdir}/pwfile")
[[ "${is_root}" != true ]] || chown "${PG_RUN_USER}:" "${workdir}/pwfile"
if ! run_pg "${PG_BIN}/initdb" -D "${data}" -U "${PG_ROLE}" --pwfile="${workdir}/pwfile" \
	--auth=scram-sha-256 -E UTF8 --locale=C --no-sync >"${workdir}/initdb.log" 2>&1; then
	echo "with-postgres: initdb failed; its output:" >&2
	cat "${workdir}/initdb.log" >&2 || true
	exit 1
fi
rm -f "${workdir}/pwfile"

# Test-only settings, in a file of their own that each start attempt rewrites
# with its port: durability off (a crash loses only a throwaway cluster),
# room for many test databases with a pool each, TCP on loopback only and the
# unix socket inside workdir so nothing clashes with a system cluster.
echo "include 'reelvault.conf'" >>"${data}/postgresql.conf"

# write_conf PORT: the settings of one start attempt.
write_conf() {
	cat >"${data}/reelvault.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $1
		unix_socket_directories = '${workdir}'
		max_connections = 300
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		password_encryption = 'scram-sha-256'
	EOF
	[[ "${is_root}" != true ]] || chown "${PG_RUN_USER}:" "${data}/reelvault.conf"
}

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: a random high port nobody listens on right now. Another process
# may still take it before postgres binds; start_server then tries again.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! port_in_use "${port}"; then
			echo "${port}"
			return 0
		fi
	done
	echo "with-postgres: no free port found" >&2
	return 1
}

# wait_ready: poll pg_isready over TCP until the server on port accepts
# connections, for at most START_TIMEOUT_S. The pg-start helper gets a copy.
wait_ready() {
	local deadline=$((SECONDS + START_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		if "${PG_BIN}/pg_isready" -q -h 127.0.0.1 -p "${port}" -d postgres -t 1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start_server: start postgres on a free port and wait until it is ready.
# Returns non-zero (leaving its log in place) when it exits or never gets
# ready; server_started tells whether a postmaster may still be running.
start_server() {
	port="$(free_port)"
	write_conf "${port}"
	server_started=true
	# pg_ctl -w returns once the server is up, or at once when it exits
	# (a port taken between probe and bind, typically).
	if ! run_pg "${PG_BIN}/pg_ctl" start -D "${data}" -l "${log}" -w -t "${START_TIMEOUT_S}" >/dev/null 2>&1; then
		if ! run_pg "${PG_BIN}/pg_ctl" status -D "${data}" >/dev/null 2>&1; then
			server_started=false
		fi
		return 1
	fi
	wait_ready
}

started=false
for _ in 1 2 3; do
	if start_server; then
		started=true
		break
	fi
	# Exited (port taken between probe and bind, typically): try another port.
	# Still running but never ready: give up below.
	[[ "${server_started}" != true ]] || break
done
if [[ "${started}" != true ]]; then
	echo "with-postgres: postgres failed to start or was not ready within ${START_TIMEOUT_S}s; the tail of its log:" >&2
	tail -n 30 "${log}" >&2 || true
	exit 1
fi

# Helpers for tests that restart the server mid-run (catalogtest.RestartPostgres).
# They run as the caller, so as root they switch to the server's user too.
if [[ "${is_root}" == true ]]; then
	as_pg="runuser -u ${PG_RUN_USER} --"
else
	as_pg=""
fi
cat >"${workdir}/pg-stop" <<EOF
#!/usr/bin/env bash
# Stops the with-postgres.sh server of ${workdir} (fast: disconnects clients).
set -euo pipefail
cd "${workdir}"
${as_pg} "${PG_BIN}/pg_ctl" stop -D "${data}" -m fast -w -t ${START_TIMEOUT_S}
EOF
cat >"${workdir}/pg-start" <<EOF
#!/usr/bin/env bash
# Starts the with-postgres.sh server of ${workdir} again, on port ${port}, and
# waits until pg_isready says it accepts connections.
set -euo pipefail
readonly PG_BIN="${PG_BIN}" START_TIMEOUT_S=${START_TIMEOUT_S}
port=${port}
$(declare -f wait_ready)
cd "${workdir}"
if ! ${as_pg} "${PG_BIN}/pg_ctl" start -D "${data}" -l "${log}" -w -t ${START_TIMEOUT_S} >/dev/null || ! wait_ready; then
	echo "pg-start: postgres did not come back within ${START_TIMEOUT_S}s; the tail of its log:" >&2
	tail -n 30 "${log}" >&2 || true
	exit 1
fi
EOF
chmod 755 "${workdir}/pg-stop" "${workdir}/pg-start"

export REELVAULT_TEST_PG_URL="postgres://${PG_ROLE}:${password}@127.0.0.1:${port}/postgres?sslmode=disable"
export REELVAULT_TEST_PG_STOP="${workdir}/pg-stop"
export REELVAULT_TEST_PG_START="${workdir}/pg-start"

"$@"
