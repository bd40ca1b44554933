# shellcheck shell=bash
# A private RabbitMQ node on 127.0.0.1, sourced by tools/services.sh (the
# tests' broker) and tools/openstack/local.sh (the OpenStack tier's).
#
#   rabbit_node_env NAME PORT DIST_PORT DIR
#                     export the node's environment: its own name, ports,
#                     data, logs, plugins and config under DIR, so that a
#                     broker already on this machine (Debian's, another
#                     checkout's, the other script's) is never stopped,
#                     reused or read
#   rabbit_start      start it (idempotent); 1 if it did not start
#   rabbit_stop       stop it: rabbitmqctl shutdown, then SIGKILL by PID
#   port_busy PORT    whether something listens on 127.0.0.1:PORT
#
# Running as root needs the node name, addresses and Erlang distribution
# interface below (measured: without them the node binds beyond loopback
# or clashes with Debian's rabbit@<hostname>).

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

rabbit_node_env() {
  local name=$1 port=$2 dist_port=$3 dir=$4
  RABBIT_DIR=$dir
  export RABBITMQ_NODENAME=$name-$port@localhost
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$port
  export RABBITMQ_DIST_PORT=$dist_port
  export RABBITMQ_MNESIA_BASE=$dir/mnesia
  export RABBITMQ_LOG_BASE=$dir/log
  export RABBITMQ_PID_FILE=$dir/rabbit.pid
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
  export RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

_rabbit_ping() {
  rabbitmq-diagnostics -q -n "$RABBITMQ_NODENAME" ping >/dev/null 2>&1
}

rabbit_start() {
  command -v rabbitmq-server >/dev/null || {
    echo "rabbitmq-server is not installed (apt-get install -y rabbitmq-server)" >&2
    return 1
  }
  _rabbit_ping && return 0
  local port
  for port in "$RABBITMQ_NODE_PORT" "$RABBITMQ_DIST_PORT"; do
    if port_busy "$port"; then
      echo "port $port is taken by a server we did not start" >&2
      return 1
    fi
  done
  mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
  [ -f "$RABBIT_DIR/enabled_plugins" ] || echo '[].' >"$RABBIT_DIR/enabled_plugins"
  [ -f "$RABBIT_DIR/rabbitmq.conf" ] || : >"$RABBIT_DIR/rabbitmq.conf"
  [ -f "$RABBIT_DIR/advanced.config" ] || echo '[].' >"$RABBIT_DIR/advanced.config"
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq "$RABBIT_DIR"
  fi
  # A node that fails to boot (seen: a listener that cannot bind yet after
  # a restart) is started again, up to three times.
  local attempt
  for attempt in 1 2 3; do
    rabbitmq-server -detached >/dev/null 2>&1
    # Polled every 0.2 s: the node answers ~4 s after it was launched.
    for _ in $(seq 1 300); do
      _rabbit_ping && break
      sleep 0.2
    done
    if rabbitmqctl -q -n "$RABBITMQ_NODENAME" await_startup --timeout 60 >/dev/null 2>&1; then
      return 0
    fi
    echo "RabbitMQ node $RABBITMQ_NODENAME did not start (attempt $attempt)" >&2
    rabbit_stop
    sleep 2
  done
  return 1
}

rabbit_stop() {
  local pid=
  [ -f "$RABBITMQ_PID_FILE" ] && pid=$(cat "$RABBITMQ_PID_FILE")
  rabbitmqctl -q -n "$RABBITMQ_NODENAME" shutdown --timeout 20 >/dev/null 2>&1 || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RABBITMQ_PID_FILE"
}
