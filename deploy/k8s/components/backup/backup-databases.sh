#!/bin/sh
# A logical backup of every service database: one mysqldump of all of them in one transaction
# (--single-transaction: the same instant for every service, nothing locked), gzip-compressed,
# uploaded to S3/MinIO, then the dumps older than BACKUP_RETENTION_DAYS deleted there.
#
#   backup-databases.sh dump     dump into BACKUP_SPOOL_DIR (needs mysqldump and gzip)
#   backup-databases.sh upload   upload the finished dump there, then apply the retention (needs aws)
#   backup-databases.sh          both, where one machine has all the tools
# The Kubernetes CronJob runs "dump" in the MySQL image and "upload" in the AWS CLI image, sharing the
# spool directory; docker compose does the same with two one-shot services.
#
# Settings (environment):
#   MYSQL_HOST (mysql), MYSQL_PORT (3306), MYSQL_BACKUP_USER (aic_backup), MYSQL_BACKUP_PASSWORD
#   MYSQL_BACKUP_OPTIONS   more mysqldump options, e.g. --ssl-mode=VERIFY_IDENTITY --ssl-ca=...
#   AIC_DB_PREFIX (aic)    the databases are <prefix>_<service>, the dumps <prefix>-<UTC time>.sql.gz
#   BACKUP_DATABASES       other databases than those (space-separated)
#   BACKUP_S3_BUCKET       required for upload; BACKUP_S3_PREFIX (mysql): the "folder" in the bucket
#   BACKUP_S3_ENDPOINT     an S3-compatible endpoint (MinIO: http://minio:9000); empty: AWS S3
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1)
#   BACKUP_RETENTION_DAYS (14)  dumps of this prefix older than that are deleted; 0 keeps every one
#   BACKUP_SPOOL_DIR (${TMPDIR:-/tmp}/aic-backup)
#
# Any failure exits non-zero with a message naming it. Nothing is deleted unless the new dump was
# complete, uploaded and found in the bucket at its full size.
set -eu

die() {
  echo "backup-databases: $*" >&2
  exit 1
}
say() { echo "backup-databases: $*"; }

# The services with a database: the one list of them in this script (tests/deploy checks it against
# the services' definitions, as it does create-databases.sh's).
services="auth social files simulator"
prefix=${AIC_DB_PREFIX:-aic}
if [ -z "${BACKUP_DATABASES:-}" ]; then
  BACKUP_DATABASES=""
  for service in $services; do
    BACKUP_DATABASES="$BACKUP_DATABASES ${prefix}_$service"
  done
fi
spool=${BACKUP_SPOOL_DIR:-${TMPDIR:-/tmp}/aic-backup}
scratch=${TMPDIR:-/tmp}
temporary=""
trap 'rm -f $temporary' EXIT

dump() {
  mkdir -p "$spool"
  # A dump left by an earlier, failed run is never uploaded.
  rm -f "$spool"/*.sql.gz "$spool"/*.part "$spool"/.status
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  file=$spool/$prefix-$stamp.sql.gz
  defaults=$(mktemp "$scratch/backup-my.XXXXXX")
  temporary="$temporary $defaults"
  # The password goes in a client options file, never on a command line.
  printf '[client]\nuser=%s\npassword="%s"\nhost=%s\nport=%s\n' "${MYSQL_BACKUP_USER:-aic_backup}" \
    "${MYSQL_BACKUP_PASSWORD:-}" "${MYSQL_HOST:-mysql}" "${MYSQL_PORT:-3306}" >"$defaults"
  # MySQL's mysqldump would otherwise write GTID statements that a restore onto another server
  # refuses; MariaDB's does not know the option.
  gtid=""
  if mysqldump --help 2>/dev/null | grep -q -- '--set-gtid-purged'; then
    gtid=--set-gtid-purged=OFF
  fi
  say "dumping$BACKUP_DATABASES"
  # POSIX sh has no pipefail: mysqldump's status is written beside the dump and checked after.
  # shellcheck disable=SC2086 # the option and database lists are meant to split
  {
    status=0
    mysqldump --defaults-extra-file="$defaults" --single-transaction --routines --triggers \
      --no-tablespaces --hex-blob --default-character-set=utf8mb4 $gtid ${MYSQL_BACKUP_OPTIONS:-} \
      --databases $BACKUP_DATABASES || status=$?
    echo "$status" >"$spool/.status"
  } | gzip -c >"$file.part" || die "compressing the dump failed"
  status=$(cat "$spool/.status" 2>/dev/null || echo unknown)
  [ "$status" = 0 ] || die "mysqldump failed (exit status $status); nothing was uploaded"
  gzip -t "$file.part" || die "the compressed dump is corrupt"
  # mysqldump ends a dump it finished with this line.
  gzip -dc "$file.part" | tail -n 1 | grep -q '^-- Dump completed' ||
    die "the dump is incomplete (no 'Dump completed' line)"
  mv "$file.part" "$file"
  rm -f "$spool/.status"
  say "dumped to $file ($(wc -c <"$file" | tr -d ' ') bytes)"
}

aws_s3() {
  # shellcheck disable=SC2086
  aws ${BACKUP_S3_ENDPOINT:+--endpoint-url "$BACKUP_S3_ENDPOINT"} "$@"
}

s3_settings() {
  bucket=${BACKUP_S3_BUCKET:?BACKUP_S3_BUCKET is not set}
  folder=${BACKUP_S3_PREFIX:-mysql}
  folder=${folder%/}
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  export HOME="${HOME:-$scratch}"
  # MinIO and most S3-compatible stores want path-style requests (http://minio:9000/bucket/key).
  if [ -n "${BACKUP_S3_ENDPOINT:-}" ] && [ -z "${AWS_CONFIG_FILE:-}" ]; then
    AWS_CONFIG_FILE=$(mktemp "$scratch/backup-aws.XXXXXX")
    export AWS_CONFIG_FILE
    temporary="$temporary $AWS_CONFIG_FILE"
    printf '[default]\ns3 =\n  addressing_style = path\n' >"$AWS_CONFIG_FILE"
  fi
}

upload() {
  s3_settings
  set -- "$spool"/*.sql.gz
  [ -f "$1" ] || die "no finished dump in $spool: the dump step failed or did not run"
  [ $# -eq 1 ] || die "more than one dump in $spool: $*"
  file=$1
  name=${file##*/}
  key=$folder/$name
  size=$(wc -c <"$file" | tr -d ' ')
  aws_s3 s3 cp --only-show-errors "$file" "s3://$bucket/$key" || die "uploading $name to s3://$bucket/$key failed"
  stored=$(aws_s3 s3api head-object --bucket "$bucket" --key "$key" --query ContentLength --output text) ||
    die "s3://$bucket/$key is not there after the upload"
  [ "$stored" = "$size" ] || die "s3://$bucket/$key holds $stored bytes, the dump $size"
  say "uploaded s3://$bucket/$key ($size bytes)"
  rm -f "$file"
  prune "$key"
}

# Deletes this prefix's dumps older than the retention, by the time in their names (never the one
# just uploaded, never another object).
prune() {
  keep=$1
  days=${BACKUP_RETENTION_DAYS:-14}
  case $days in
    '' | *[!0-9]*) die "BACKUP_RETENTION_DAYS must be a number of days, not '$days'" ;;
  esac
  if [ "$days" -eq 0 ]; then
    say "retention 0: keeping every dump"
    return 0
  fi
  cutoff=$(date -u -d "@$(($(date -u +%s) - days * 86400))" +%Y%m%d%H%M%S)
  keys=$(aws_s3 s3api list-objects-v2 --bucket "$bucket" --prefix "$folder/$prefix-" \
    --query 'Contents[].Key' --output text) || die "listing s3://$bucket/$folder/ failed; nothing deleted"
  deleted=0
  for key in $keys; do
    [ "$key" != "$keep" ] || continue
    stamp=${key#"$folder/$prefix-"}
    case $stamp in
      [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.sql.gz) ;;
      *) continue ;; # not a dump of this script (or "None": the folder is empty)
    esac
    time=$(echo "$stamp" | cut -c1-8,10-15)
    if [ "$time" -lt "$cutoff" ]; then
      aws_s3 s3 rm --only-show-errors "s3://$bucket/$key" || die "deleting s3://$bucket/$key failed"
      deleted=$((deleted + 1))
      say "deleted s3://$bucket/$key (older than $days days)"
    fi
  done
  say "retention $days days: $deleted old dump(s) deleted"
}

case ${1:-all} in
  dump) dump ;;
  upload) upload ;;
  all)
    dump
    upload
    ;;
  *)
    echo "usage: $0 [dump|upload|all]" >&2
    exit 2
    ;;
esac
