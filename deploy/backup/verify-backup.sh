#!/usr/bin/env bash
# Verify the latest PostgreSQL backup: restore it into a scratch database, check that
# its schema is at the migration head (bastion db status) and that tables hold rows.
#
#   BACKUP_DIR         directory of pg_dump custom-format files (*.dump); the newest is used
#   BACKUP_FILE        or one file to verify (overrides BACKUP_DIR)
#   SCRATCH_ADMIN_URL  libpq URL (no query string) of a server and a role that may
#                      CREATE DATABASE, e.g. postgresql://verify@db-scratch:5432/postgres
#   BASTION_APP        the app (package.module:app) whose migrations the schema must match
#   MIN_ROWS           table=minimum pairs, comma-separated, e.g. "taskboard_projects=1,taskboard_tasks=10"
#   BASTION            the bastion command (default: bastion)
#
# Exit 0 when every check passes; 1 otherwise, with one line per failed check.
# The scratch database is dropped in every case.
set -euo pipefail

: "${SCRATCH_ADMIN_URL:?set SCRATCH_ADMIN_URL to a server where a scratch database may be created}"
: "${BASTION_APP:?set BASTION_APP to the app, e.g. examples.taskboard.app:app}"
BASTION=${BASTION:-bastion}

if [[ -n "${BACKUP_FILE:-}" ]]; then
  dump=$BACKUP_FILE
else
  : "${BACKUP_DIR:?set BACKUP_DIR (or BACKUP_FILE)}"
  dump=$(ls -1t "$BACKUP_DIR"/*.dump 2>/dev/null | head -n 1 || true)
fi
if [[ -z "$dump" || ! -f "$dump" ]]; then
  echo "verify-backup: FAIL no dump found (${BACKUP_FILE:-$BACKUP_DIR/*.dump})" >&2
  exit 1
fi

scratch="verify_$(date -u +%Y%m%d%H%M%S)_$$"
scratch_url="${SCRATCH_ADMIN_URL%/*}/$scratch"  # the same server and role, the scratch database

cleanup() {
  psql "$SCRATCH_ADMIN_URL" -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "verify-backup: restoring $dump into $scratch"
psql "$SCRATCH_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$scratch\"" >/dev/null
pg_restore --no-owner --no-acl --exit-on-error -d "$scratch_url" "$dump"

failures=0
if BASTION_DATABASE_URL="$scratch_url" "$BASTION" --app "$BASTION_APP" db status; then
  echo "verify-backup: ok   schema at the migration head"
else
  echo "verify-backup: FAIL schema is not at the migration head (bastion db status)"
  failures=$((failures + 1))
fi

IFS=',' read -r -a checks <<< "${MIN_ROWS:-}"
for check in "${checks[@]}"; do
  [[ -z "$check" ]] && continue
  table=${check%%=*}
  minimum=${check#*=}
  if [[ ! "$table" =~ ^[A-Za-z_][A-Za-z0-9_.]*$ || ! "$minimum" =~ ^[0-9]+$ ]]; then
    echo "verify-backup: FAIL bad MIN_ROWS entry '$check' (want table=number)"
    failures=$((failures + 1))
    continue
  fi
  if ! count=$(psql "$scratch_url" -At -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM $table" 2>&1); then
    echo "verify-backup: FAIL $table: $count"
    failures=$((failures + 1))
  elif (( count < minimum )); then
    echo "verify-backup: FAIL $table has $count rows, fewer than $minimum"
    failures=$((failures + 1))
  else
    echo "verify-backup: ok   $table has $count rows (at least $minimum)"
  fi
done

if (( failures > 0 )); then
  echo "verify-backup: $failures check(s) failed for $dump"
  exit 1
fi
echo "verify-backup: $dump restores and passes every check"
