#!/bin/sh
# One database and one user per service (aic_<service>), each user with rights on its own database
# only. The MySQL container runs this on its first start (docker-entrypoint-initdb.d); against a
# managed server an operator runs it once with the same variables:
#   MYSQL_HOST=db.internal MYSQL_ADMIN_USER=admin MYSQL_ROOT_PASSWORD=... \
#   MYSQL_AUTH_PASSWORD=... MYSQL_SOCIAL_PASSWORD=... MYSQL_FILES_PASSWORD=... \
#   MYSQL_SIMULATOR_PASSWORD=... [MYSQL_BACKUP_PASSWORD=...] sh create-databases.sh
# With MYSQL_BACKUP_PASSWORD also the read-only user <prefix>_backup of backup-databases.sh (SELECT,
# SHOW VIEW, TRIGGER, LOCK TABLES on each service database, nothing else).
# Running it again changes nothing but the users' passwords (set to the given ones).
set -eu

prefix=${AIC_DB_PREFIX:-aic}
defaults=$(mktemp)
trap 'rm -f "$defaults"' EXIT
# The admin password goes in a client options file, never on a command line.
printf '[client]\nuser=%s\npassword="%s"\n' "${MYSQL_ADMIN_USER:-root}" "${MYSQL_ROOT_PASSWORD:-}" >"$defaults"

for service in auth social files simulator; do
  variable=MYSQL_$(echo "$service" | tr '[:lower:]' '[:upper:]')_PASSWORD
  eval "password=\${$variable:-}"
  if [ -z "$password" ]; then
    echo "create-databases: $variable is not set" >&2
    exit 1
  fi
  case $password in
    *[!A-Za-z0-9]*)
      echo "create-databases: $variable may hold letters and digits only (it is part of a URL)" >&2
      exit 1
      ;;
  esac
  name=${prefix}_$service
  databases="${databases:-} $name"
  mysql --defaults-extra-file="$defaults" ${MYSQL_HOST:+--host="$MYSQL_HOST"} \
    ${MYSQL_PORT:+--port="$MYSQL_PORT"} <<SQL
CREATE DATABASE IF NOT EXISTS \`$name\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$name'@'%' IDENTIFIED BY '$password';
ALTER USER '$name'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$name\`.* TO '$name'@'%';
SQL
  echo "create-databases: $name ready"
done

if [ -n "${MYSQL_BACKUP_PASSWORD:-}" ]; then
  case $MYSQL_BACKUP_PASSWORD in
    *[!A-Za-z0-9]*)
      echo "create-databases: MYSQL_BACKUP_PASSWORD may hold letters and digits only" >&2
      exit 1
      ;;
  esac
  backup=${prefix}_backup
  {
    echo "CREATE USER IF NOT EXISTS '$backup'@'%' IDENTIFIED BY '$MYSQL_BACKUP_PASSWORD';"
    echo "ALTER USER '$backup'@'%' IDENTIFIED BY '$MYSQL_BACKUP_PASSWORD';"
    for name in $databases; do
      echo "GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES ON \`$name\`.* TO '$backup'@'%';"
    done
  } | mysql --defaults-extra-file="$defaults" ${MYSQL_HOST:+--host="$MYSQL_HOST"} \
    ${MYSQL_PORT:+--port="$MYSQL_PORT"}
  echo "create-databases: $backup (read-only, for backups) ready"
fi
