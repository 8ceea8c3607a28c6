#!/bin/sh
# Restores a dump made by backup-databases.sh: every service database in it, as it was at that instant.
#
#   restore-databases.sh            the newest dump in s3://$BACKUP_S3_BUCKET/$BACKUP_S3_PREFIX/
#   restore-databases.sh NAME       that dump (aic-20250131T020000Z.sql.gz, or its whole key)
#   restore-databases.sh ./FILE     a dump already downloaded
#   restore-databases.sh download [NAME]   only download it, to $BACKUP_SPOOL_DIR/restore.sql.gz (where
#                                   aws and mysql are in different images: docker compose's "restore")
# Needs mysql, gzip and (unless given a file) aws. The same settings as backup-databases.sh for the
# object store and AIC_DB_PREFIX; for the server those of create-databases.sh: MYSQL_HOST (mysql),
# MYSQL_PORT (3306), MYSQL_ADMIN_USER (root), MYSQL_ROOT_PASSWORD, and MYSQL_RESTORE_OPTIONS.
#
# It refuses to write into a database of the dump that already holds tables, unless RESTORE_REPLACE=yes,
# which drops those databases first. Users and grants are not in a dump: on a new server run
# create-databases.sh too (before or after; it keeps the data). Stop the services while restoring.
set -eu

die() {
  echo "restore-databases: $*" >&2
  exit 1
}
say() { echo "restore-databases: $*"; }

prefix=${AIC_DB_PREFIX:-aic}
scratch=${TMPDIR:-/tmp}
temporary=""
trap 'rm -f $temporary' EXIT

aws_s3() {
  # shellcheck disable=SC2086
  aws ${BACKUP_S3_ENDPOINT:+--endpoint-url "$BACKUP_S3_ENDPOINT"} "$@"
}

download() {
  wanted=$1
  bucket=${BACKUP_S3_BUCKET:?BACKUP_S3_BUCKET is not set}
  folder=${BACKUP_S3_PREFIX:-mysql}
  folder=${folder%/}
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  export HOME="${HOME:-$scratch}"
  if [ -n "${BACKUP_S3_ENDPOINT:-}" ] && [ -z "${AWS_CONFIG_FILE:-}" ]; then
    AWS_CONFIG_FILE=$(mktemp "$scratch/restore-aws.XXXXXX")
    export AWS_CONFIG_FILE
    temporary="$temporary $AWS_CONFIG_FILE"
    printf '[default]\ns3 =\n  addressing_style = path\n' >"$AWS_CONFIG_FILE"
  fi
  case $wanted in
    latest)
      keys=$(aws_s3 s3api list-objects-v2 --bucket "$bucket" --prefix "$folder/$prefix-" \
        --query 'Contents[].Key' --output text) || die "listing s3://$bucket/$folder/ failed"
      key=$(for candidate in $keys; do echo "$candidate"; done |
        grep -E "^$folder/$prefix-[0-9]{8}T[0-9]{6}Z\.sql\.gz$" | sort | tail -n 1) || true
      [ -n "$key" ] || die "no dump of $prefix in s3://$bucket/$folder/"
      ;;
    */*) key=$wanted ;;
    *) key=$folder/$wanted ;;
  esac
  file=$(mktemp "$scratch/restore-dump.XXXXXX")
  temporary="$temporary $file"
  say "downloading s3://$bucket/$key"
  aws_s3 s3 cp --only-show-errors "s3://$bucket/$key" "$file" || die "downloading s3://$bucket/$key failed"
}

case ${1:-latest} in
  -h | --help)
    sed -n '2,16p' "$0"
    exit 0
    ;;
  download)
    download "${2:-latest}"
    gzip -t "$file" || die "s3://$bucket/$key is not a whole gzip file"
    spool=${BACKUP_SPOOL_DIR:-$scratch/aic-backup}
    mkdir -p "$spool"
    mv "$file" "$spool/restore.sql.gz"
    say "downloaded to $spool/restore.sql.gz"
    exit 0
    ;;
esac
if [ -f "${1:-}" ]; then
  file=$1
else
  download "${1:-latest}"
fi

gzip -t "$file" || die "$file is not a whole gzip file"
gzip -dc "$file" | tail -n 1 | grep -q '^-- Dump completed' || die "$file is not a complete dump"
# shellcheck disable=SC2016 # the backquotes are MySQL's
databases=$(gzip -dc "$file" | sed -n 's/^CREATE DATABASE .*`\([^`]*\)`.*/\1/p')
[ -n "$databases" ] || die "$file creates no database"

defaults=$(mktemp "$scratch/restore-my.XXXXXX")
temporary="$temporary $defaults"
printf '[client]\nuser=%s\npassword="%s"\nhost=%s\nport=%s\n' "${MYSQL_ADMIN_USER:-root}" \
  "${MYSQL_ROOT_PASSWORD:-}" "${MYSQL_HOST:-mysql}" "${MYSQL_PORT:-3306}" >"$defaults"
sql() {
  # shellcheck disable=SC2086
  mysql --defaults-extra-file="$defaults" ${MYSQL_RESTORE_OPTIONS:-} --default-character-set=utf8mb4 "$@"
}

for database in $databases; do
  tables=$(sql -N -B -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$database'") ||
    die "cannot reach MySQL at ${MYSQL_HOST:-mysql}:${MYSQL_PORT:-3306}"
  if [ "$tables" -gt 0 ]; then
    [ "${RESTORE_REPLACE:-}" = yes ] ||
      die "$database already holds $tables tables: RESTORE_REPLACE=yes drops it first"
    say "dropping $database ($tables tables)"
    sql -e "DROP DATABASE \`$database\`"
  fi
done

# shellcheck disable=SC2086 # one line of names
names=$(printf '%s ' $databases)
say "restoring $names"
gzip -dc "$file" | sql || die "loading the dump failed; the databases may be partly restored"
say "restored $names"
