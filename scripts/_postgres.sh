# Sourced by scripts/test.sh: a throwaway PostgreSQL 15 cluster for the test suite.
#
# Unix socket only (no port can collide with anything), fsync off, under a temporary folder that
# is removed on exit. Exports WANBOT_TEST_PG_DSN for tests/conftest.py. Without PostgreSQL
# binaries the PostgreSQL half of the suite is skipped with one loud line, unless CI is set:
# then the tests fail instead (tests/conftest.py reads WANBOT_TEST_PG_REQUIRED).
pg_bin="${WANBOT_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ -n "${CI:-}" ] && [ "${CI}" != "false" ]; then
  export WANBOT_TEST_PG_REQUIRED=1
fi
if [ -n "${WANBOT_TEST_PG_DSN:-}" ]; then
  :  # a server given from outside: use it as it is
elif [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
  if [ -n "${WANBOT_TEST_PG_REQUIRED:-}" ]; then
    echo "CI needs PostgreSQL, but its binaries are not in $pg_bin (set WANBOT_PG_BIN or WANBOT_TEST_PG_DSN)" >&2
    exit 1
  fi
  echo "!!! PostgreSQL binaries not found in $pg_bin: the PostgreSQL half of the suite is SKIPPED !!!" >&2
else
  pg_dir="$(mktemp -d /tmp/wanbot-pg.XXXXXX)"
  pg_port=54329
  _pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
  }
  _pg_stop() {
    _pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  }
  trap _pg_stop EXIT
  trap '_pg_stop; exit 130' INT TERM
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$pg_dir"
    chmod 700 "$pg_dir"
  fi
  _pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  _pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-p $pg_port -k $pg_dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$pg_dir/server.log" >&2; exit 1; }
  export WANBOT_TEST_PG_DSN="postgresql://postgres@/postgres?host=$pg_dir&port=$pg_port"
fi
