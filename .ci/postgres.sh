#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the store tests and prints the line that points the
# tests at it:
#
#     eval "$(bash .ci/postgres.sh)"    # sets CTWATCH_TEST_POSTGRES_URL
#     cargo test -p ctwatch-store
#
# Installs Debian's `postgresql` when no server binary is found under /usr/lib/postgresql. Its
# maintainer scripts would create and start the distribution's own cluster: a policy-rc.d that
# refuses service starts is put in place for the install (and removed afterwards when this
# script created it), so nothing but our own cluster is left listening.
#
# The cluster lives in $CTWATCH_PG_DIR (default /tmp/ctwatch-postgres), belongs to the
# `postgres` user (initdb refuses to run as root), listens on 127.0.0.1:$CTWATCH_PG_PORT
# (default 55432) and on a Unix socket in that directory, and runs with fsync off: it holds
# nothing worth keeping. It has a role and a database `ctwatch` (password `ctwatch`) in which
# each test creates and drops its own schema. Running the script again reuses a running
# cluster. Stop it with
#
#     runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/pg_ctl" \
#         -D /tmp/ctwatch-postgres/data stop
#
# Only the `export` line goes to stdout; progress goes to stderr.
set -euo pipefail

dir="${CTWATCH_PG_DIR:-/tmp/ctwatch-postgres}"
port="${CTWATCH_PG_PORT:-55432}"
user=ctwatch
password=ctwatch
database=ctwatch

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -n "$bin" ] && [ -x "$bin/postgres" ]; then echo "$bin"; fi
}

bin=$(find_bin)
if [ -z "$bin" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "no PostgreSQL server under /usr/lib/postgresql and not root: install Debian's postgresql first"
    exit 1
  fi
  log "installing postgresql"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Written by ctwatch .ci/postgres.sh: no service starts during the install.\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  bin=$(find_bin)
  if [ -z "$bin" ]; then
    log "postgresql installed but no server binary found under /usr/lib/postgresql"
    exit 1
  fi
fi

# Run a command as the `postgres` user when we are root (initdb and the server refuse root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

data="$dir/data"
mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi

if [ ! -s "$data/PG_VERSION" ]; then
  log "initdb $data"
  pwfile=$(mktemp)
  printf '%s\n' "$password" >"$pwfile"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pwfile"; fi
  # The superuser authenticates over the Unix socket only (trust); TCP needs a password.
  as_postgres "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >&2
  rm -f "$pwfile"
fi

if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  log "reusing the cluster running in $data"
else
  log "starting PostgreSQL on 127.0.0.1:$port"
  as_postgres "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2 ||
    { log "the server did not start; its log:"; tail -n 30 "$dir/server.log" >&2 || true; exit 1; }
fi

psql_super() {
  as_postgres "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}
if [ "$(psql_super -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
  log "creating role $user"
  psql_super -c "CREATE ROLE $user LOGIN PASSWORD '$password'" >&2
fi
if [ "$(psql_super -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
  log "creating database $database"
  psql_super -c "CREATE DATABASE $database OWNER $user" >&2
fi

echo "export CTWATCH_TEST_POSTGRES_URL=postgres://$user:$password@127.0.0.1:$port/$database"
