#!/bin/sh
# The files service's bucket and its own MinIO user, allowed that bucket and nothing else (the root
# credentials stay with MinIO). Run once MinIO answers (a compose one-shot, a Job in the cluster);
# running it again changes nothing.
set -eu

: "${MINIO_URL:=http://minio:9000}"
: "${S3_BUCKET:=aic-files}"
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
export MC_CONFIG_DIR="${MC_CONFIG_DIR:-/tmp/.mc}"
mkdir -p "$MC_CONFIG_DIR"
policy=$MC_CONFIG_DIR/aic-files-policy.json

mc alias set aic "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "aic/$S3_BUCKET"
cat >"$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$S3_BUCKET"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]}
  ]
}
JSON
mc admin policy create aic aic-files "$policy"
mc admin user add aic "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
# Attaching again reports that nothing changed; the user has the policy either way.
mc admin policy attach aic aic-files --user "$S3_ACCESS_KEY" || true
echo "setup-minio: bucket $S3_BUCKET and its user ready"

# The database dumps' bucket and their own user (backup-databases.sh lists, writes and deletes dumps
# there; restore-databases.sh reads them), when BACKUP_S3_ACCESS_KEY is given.
if [ -n "${BACKUP_S3_ACCESS_KEY:-}" ]; then
  : "${BACKUP_S3_SECRET_KEY:?}" "${BACKUP_S3_BUCKET:=aic-backups}"
  backup_policy=$MC_CONFIG_DIR/aic-backups-policy.json
  mc mb --ignore-existing "aic/$BACKUP_S3_BUCKET"
  cat >"$backup_policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$BACKUP_S3_BUCKET"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$BACKUP_S3_BUCKET/*"]}
  ]
}
JSON
  mc admin policy create aic aic-backups "$backup_policy"
  mc admin user add aic "$BACKUP_S3_ACCESS_KEY" "$BACKUP_S3_SECRET_KEY"
  mc admin policy attach aic aic-backups --user "$BACKUP_S3_ACCESS_KEY" || true
  echo "setup-minio: bucket $BACKUP_S3_BUCKET and its user ready"
fi
