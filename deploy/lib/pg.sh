#!/usr/bin/env bash
# A private PostgreSQL cluster for Hotline: initialised under DIR, listening only on a Unix
# socket in DIR (no TCP), owned by the invoking user — or by `postgres` when run as root
# (PostgreSQL refuses to run as root). Used by deploy/up when no database URL is configured,
# and by the tests, which each start their own.
#
#   deploy/lib/pg.sh start DIR     initialise if needed, start; prints the database URL
#   deploy/lib/pg.sh stop DIR      stop (fast shutdown)
#   deploy/lib/pg.sh url DIR       print the URL of a started cluster
#   deploy/lib/pg.sh psql DIR ...  run psql against it
set -euo pipefail

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|url|psql DIR" >&2; exit 2; }
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
db="hotline"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql:///$db?host=$dir&user=hotline"; }

case "$cmd" in
  start)
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if [ ! -s "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U hotline -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -c fsync=on -c max_connections=50" start >/dev/null \
        || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    fi
    if ! as_owner "$bin/psql" -h "$dir" -U hotline -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
      as_owner "$bin/createdb" -h "$dir" -U hotline "$db"
    fi
    url
    ;;
  stop)
    if [ -s "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  url) url ;;
  psql) shift 2; as_owner "$bin/psql" -h "$dir" -U hotline -d "$db" "$@" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
