#!/usr/bin/env bash
# Makes sure the local RabbitMQ, MariaDB and Redis answer, starting any that is installed but down,
# and prints the AIC_TEST_* variables for those that answer (to be eval'ed). Never installs anything.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 seconds=$2
  for _ in $(seq 1 $((seconds * 5))); do
    port_open "$port" && return 0
    sleep 0.2
  done
  return 1
}

start_if_down() {
  local name=$1 port=$2; shift 2
  port_open "$port" && return 0
  if command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; then
    echo "==> starting $name" >&2
    "$@" >/dev/null 2>&1 || true
    wait_port "$port" 90 || echo "!! $name did not come up on port $port" >&2
  fi
}

# A server already named by its AIC_TEST_* variable (CI's service containers) is used as it is.
[ -n "${AIC_TEST_RABBITMQ_URL:-}" ] || start_if_down RabbitMQ 5672 rabbitmq-server -detached
[ -n "${AIC_TEST_MYSQL_URL:-}" ] \
  || start_if_down MariaDB 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
[ -n "${AIC_TEST_REDIS_URL:-}" ] \
  || start_if_down Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no

if port_open 5672; then
  # The port opens before the broker accepts connections: wait until it has booted.
  command -v rabbitmqctl >/dev/null 2>&1 && rabbitmqctl await_startup >/dev/null 2>&1
  echo "export AIC_TEST_RABBITMQ_URL=\${AIC_TEST_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/}"
  # The management API: the tests make a broker user per service through it, as a deployment does.
  if [ -z "${AIC_TEST_RABBITMQ_MANAGEMENT_URL:-}" ] && ! port_open 15672 \
    && command -v rabbitmq-plugins >/dev/null 2>&1; then
    rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null 2>&1 || true
    wait_port 15672 60 || echo "!! RabbitMQ's management API did not come up on port 15672" >&2
  fi
  port_open 15672 \
    && echo "export AIC_TEST_RABBITMQ_MANAGEMENT_URL=\${AIC_TEST_RABBITMQ_MANAGEMENT_URL:-http://guest:guest@127.0.0.1:15672}"
fi
port_open 3306 && echo "export AIC_TEST_MYSQL_URL=\${AIC_TEST_MYSQL_URL:-mysql+pymysql://root@127.0.0.1:3306}"
port_open 6379 && echo "export AIC_TEST_REDIS_URL=\${AIC_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
exit 0
