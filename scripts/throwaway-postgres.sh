#!/usr/bin/env bash
# Start and stop a disposable PostgreSQL server for the test suite.
#
# Usage:
#   throwaway-postgres.sh start DIR PORT   create a cluster in DIR, start it on
#                                          127.0.0.1:PORT and print its URL
#   throwaway-postgres.sh stop DIR         stop the server and delete DIR
#   throwaway-postgres.sh run COMMAND...   start a server in a new temporary
#                                          directory on a free port, run COMMAND
#                                          with ETL_TEST_POSTGRES_URL set, then
#                                          stop it and exit with COMMAND's status
#   throwaway-postgres.sh free-port        print a free TCP port on 127.0.0.1
#   throwaway-postgres.sh bindir           print the directory that contains
#                                          initdb, or fail if none is found
#
# The server listens on 127.0.0.1 only. TCP connections need a password
# (scram-sha-256). Unix-socket connections are trusted, but the socket lives in
# DIR, which only the cluster owner can open. fsync is off, so a crash can
# corrupt the cluster: use it for tests only.
#
# When run as root, the cluster belongs to the `postgres` OS user because
# PostgreSQL refuses to run as root. Otherwise it belongs to the current user.
# Set PG_BINDIR to choose the PostgreSQL binaries. Without it, the script looks
# for initdb on PATH, then in `pg_config --bindir`, then in the newest
# /usr/lib/postgresql/*/bin.
set -euo pipefail

readonly ROLE_NAME=etl
readonly ROLE_PASSWORD=etl-test-password
readonly DATABASE_NAME=etl
readonly SUPERUSER_NAME=postgres
readonly CLUSTER_OS_USER=postgres
# File that marks DIR as created by this script, so `stop` never deletes a
# directory that it did not create.
readonly MARKER_FILE=.throwaway-postgres
# Linux limit for a Unix socket path (sun_path is 108 bytes including the NUL).
readonly MAX_SOCKET_PATH_LENGTH=107

program=$(basename -- "$0")

die() {
    printf '%s: error: %s\n' "$program" "$*" >&2
    exit 1
}

log() {
    printf '%s: %s\n' "$program" "$*" >&2
}

usage() {
    cat >&2 <<EOF
Usage: $program start DIR PORT
       $program stop DIR
       $program run COMMAND [ARGUMENT...]
       $program free-port
       $program bindir
EOF
    exit 2
}

# Print the PostgreSQL bin directory (the one that contains initdb).
# Functions use `return 0` because, when stop runs from an EXIT trap, a bare
# `return` returns the exit status from before the trap.
find_bindir() {
    local candidate initdb_path

    if [[ -n "${PG_BINDIR:-}" ]]; then
        [[ -x "$PG_BINDIR/initdb" ]] || die "PG_BINDIR is set to '$PG_BINDIR', but it contains no executable initdb"
        printf '%s\n' "$PG_BINDIR"
        return 0
    fi

    # Resolve symlinks so that a link such as /usr/local/bin/initdb leads to the
    # real bin directory, which also contains pg_ctl and psql.
    if initdb_path=$(command -v initdb); then
        dirname -- "$(readlink -f -- "$initdb_path")"
        return 0
    fi

    if command -v pg_config >/dev/null && candidate=$(pg_config --bindir) && [[ -x "$candidate/initdb" ]]; then
        printf '%s\n' "$candidate"
        return 0
    fi

    candidate=$(
        find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' -perm -u+x 2>/dev/null \
            | sort -V | tail -n 1
    )
    if [[ -n "$candidate" ]]; then
        dirname -- "$candidate"
        return 0
    fi

    die "initdb was not found on PATH, in 'pg_config --bindir' or in /usr/lib/postgresql/*/bin." \
        "Install the PostgreSQL server (Debian: apt-get install postgresql) or set PG_BINDIR."
}

# Print the path of a PostgreSQL program, preferring the bin directory.
find_program() {
    local bindir=$1 name=$2 path
    if [[ -x "$bindir/$name" ]]; then
        printf '%s\n' "$bindir/$name"
    elif path=$(command -v "$name"); then
        printf '%s\n' "$path"
    else
        die "$name was not found in $bindir or on PATH. Install the PostgreSQL client and server programs."
    fi
}

free_port() {
    command -v python3 >/dev/null || die "python3 was not found on PATH, but it is needed to find a free port"
    python3 - <<'EOF'
import socket

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1])
EOF
}

# Run a command as the cluster owner, from DIR so that the owner can read its
# working directory.
as_cluster_owner() {
    local dir=$1
    shift
    if ((EUID == 0)); then
        (cd -- "$dir" && runuser -u "$CLUSTER_OS_USER" -- "$@")
    else
        (cd -- "$dir" && "$@")
    fi
}

# Quote a value as a postgresql.conf string literal.
conf_string() {
    printf "'%s'" "${1//\'/\'\'}"
}

print_log_tail() {
    local file=$1
    if [[ -s "$file" ]]; then
        log "last lines of $file:"
        tail -n 20 -- "$file" >&2
    fi
}

start_server() {
    local dir=$1 port=$2
    local bindir initdb pg_ctl psql data_dir log_file socket_path

    [[ "$port" =~ ^[0-9]+$ ]] && ((port >= 1024 && port <= 65535)) \
        || die "invalid port '$port': expected an integer from 1024 to 65535"

    bindir=$(find_bindir)
    initdb=$(find_program "$bindir" initdb)
    pg_ctl=$(find_program "$bindir" pg_ctl)
    psql=$(find_program "$bindir" psql)

    if ((EUID == 0)); then
        command -v runuser >/dev/null || die "runuser was not found on PATH, but it is needed to run PostgreSQL as the $CLUSTER_OS_USER user"
        id -u "$CLUSTER_OS_USER" >/dev/null 2>&1 \
            || die "running as root, but the '$CLUSTER_OS_USER' OS user does not exist. Install the postgresql package or create the user."
    fi

    if [[ -e "$dir" ]]; then
        [[ -d "$dir" ]] || die "$dir exists and is not a directory"
        [[ -z "$(ls -A -- "$dir")" ]] || die "$dir is not empty. Pass a new or empty directory."
    fi
    mkdir -p -- "$dir"
    dir=$(cd -- "$dir" && pwd -P)
    touch -- "$dir/$MARKER_FILE"

    socket_path="$dir/.s.PGSQL.$port"
    ((${#socket_path} <= MAX_SOCKET_PATH_LENGTH)) \
        || die "the socket path $socket_path is longer than $MAX_SOCKET_PATH_LENGTH characters. Choose a shorter DIR."

    if ((EUID == 0)); then
        chown -- "$CLUSTER_OS_USER:" "$dir" "$dir/$MARKER_FILE"
    fi
    chmod 0700 -- "$dir"
    as_cluster_owner / test -w "$dir" \
        || die "the $CLUSTER_OS_USER OS user cannot write to $dir. Make its parent directories searchable (chmod o+x) or use a directory under /tmp."

    data_dir="$dir/data"
    log_file="$dir/server.log"

    log "creating a cluster in $data_dir with $initdb"
    if ! as_cluster_owner "$dir" "$initdb" --pgdata="$data_dir" --username="$SUPERUSER_NAME" \
        --encoding=UTF8 --no-locale --auth=trust --no-sync >"$dir/initdb.log" 2>&1; then
        print_log_tail "$dir/initdb.log"
        die "initdb failed. See $dir/initdb.log."
    fi

    as_cluster_owner "$dir" tee -a "$data_dir/postgresql.conf" >/dev/null <<EOF

# Settings for a disposable test server.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $(conf_string "$dir")
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
# An autovacuum worker is a superuser session, which DROP DATABASE ... WITH
# (FORCE) run by the test role cannot end; the tests need no vacuuming.
autovacuum = off
EOF

    as_cluster_owner "$dir" tee "$data_dir/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  scram-sha-256
EOF

    log "starting the server on 127.0.0.1:$port"
    if ! as_cluster_owner "$dir" "$pg_ctl" --pgdata="$data_dir" --log="$log_file" \
        --wait --timeout=60 --silent start >&2; then
        print_log_tail "$log_file"
        die "the server did not start. See $log_file."
    fi

    as_cluster_owner "$dir" "$psql" --no-psqlrc --quiet --set=ON_ERROR_STOP=1 \
        --host="$dir" --port="$port" --username="$SUPERUSER_NAME" --dbname=postgres >&2 <<EOF
CREATE ROLE $ROLE_NAME LOGIN CREATEDB PASSWORD '$ROLE_PASSWORD';
CREATE DATABASE $DATABASE_NAME OWNER $ROLE_NAME;
EOF

    # Check that a TCP login with the password works, which is how tests connect.
    if ! PGPASSWORD=$ROLE_PASSWORD "$psql" --no-psqlrc --quiet --tuples-only \
        --host=127.0.0.1 --port="$port" --username="$ROLE_NAME" --dbname="$DATABASE_NAME" \
        --command='SELECT 1' >/dev/null; then
        die "the server is running, but the password login as $ROLE_NAME on 127.0.0.1:$port failed"
    fi

    printf 'postgresql+psycopg://%s:%s@127.0.0.1:%s/%s\n' \
        "$ROLE_NAME" "$ROLE_PASSWORD" "$port" "$DATABASE_NAME"
}

stop_server() {
    local dir=$1 bindir pg_ctl

    if [[ ! -e "$dir" ]]; then
        log "$dir does not exist; nothing to stop"
        return 0
    fi
    [[ -f "$dir/$MARKER_FILE" ]] \
        || die "$dir has no $MARKER_FILE file, so '$program start' did not create it and it is not deleted"
    dir=$(cd -- "$dir" && pwd -P)

    if [[ -f "$dir/data/postmaster.pid" ]]; then
        bindir=$(find_bindir)
        pg_ctl=$(find_program "$bindir" pg_ctl)
        log "stopping the server in $dir/data"
        as_cluster_owner "$dir" "$pg_ctl" --pgdata="$dir/data" --mode=fast --wait --silent stop >&2 \
            || die "pg_ctl stop failed, so $dir was kept for inspection"
    fi
    rm -rf -- "$dir"
}

# Global rather than local because the EXIT trap runs after run_with_server
# has returned.
run_dir=

run_with_server() {
    local port url status

    (($# > 0)) || usage
    run_dir=$(mktemp -d "${TMPDIR:-/tmp}/etl-postgres.XXXXXX")
    # The EXIT trap also runs when INT or TERM ends the script.
    trap 'stop_server "$run_dir"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    port=$(free_port)
    url=$(start_server "$run_dir" "$port")
    log "ETL_TEST_POSTGRES_URL=$url"

    status=0
    ETL_TEST_POSTGRES_URL=$url "$@" || status=$?
    return "$status"
}

main() {
    (($# > 0)) || usage
    local command=$1
    shift
    case "$command" in
        start)
            (($# == 2)) || usage
            start_server "$1" "$2"
            ;;
        stop)
            (($# == 1)) || usage
            stop_server "$1"
            ;;
        run)
            run_with_server "$@"
            ;;
        free-port)
            (($# == 0)) || usage
            free_port
            ;;
        bindir)
            (($# == 0)) || usage
            find_bindir
            ;;
        *)
            usage
            ;;
    esac
}

main "$@"
