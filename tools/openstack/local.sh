#!/usr/bin/env bash
# Real OpenStack services on 127.0.0.1 for the real-OpenStack test tier:
# Keystone, Heat (engine + API), Nova (API, conductor, scheduler, compute
# with the fake virt driver) and Placement, on a private MariaDB and a
# private RabbitMQ node. caas is registered in the catalog as the devstack
# plugin registers it.
#
#   tools/openstack/local.sh venvs   build the services' venvs (cached)
#   tools/openstack/local.sh start   venvs, then start everything; prints
#                                    export lines (eval them)
#   tools/openstack/local.sh env     the export lines alone
#   tools/openstack/local.sh stop    stop everything, by PID
#   tools/openstack/local.sh status  which services run
#   tools/openstack/local.sh memory  memory (PSS) of each service and total
#   tools/openstack/local.sh db      the MariaDB server alone (caas's
#                                    database tests on MariaDB)
#
# Environment:
#   CAAS_OSTACK_DIR        state: databases, configs, logs, PIDs
#                          (default /tmp/caas-openstack)
#   CAAS_OSTACK_PORT_BASE  first of the 100 ports used (default 26500)
#   CAAS_OSTACK_CACHE      where venvs are kept between runs
#                          (default /var/cache/caas-ci)
#   CI                     when set, a service that does not start is an
#                          error (it always is; CI only adds log tails)
#
# Each service runs in its own venv (the versions in versions.sh) and is a
# child we can stop by PID: SIGTERM, then SIGKILL after a timeout (heat-engine
# and nova-compute were seen ignoring SIGTERM for over 10 s). Nothing is
# started by systemd and nothing listens beyond 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh disable=SC1091
. "$HERE/versions.sh"

DIR=${CAAS_OSTACK_DIR:-/tmp/caas-openstack}
BASE=${CAAS_OSTACK_PORT_BASE:-26500}
CACHE=${CAAS_OSTACK_CACHE:-/var/cache/caas-ci}/openstack-k$KEYSTONE_VERSION-h$HEAT_VERSION-n$NOVA_VERSION-p$PLACEMENT_VERSION

KEYSTONE_PORT=$BASE
HEAT_PORT=$((BASE + 4))
MYSQL_PORT=$((BASE + 6))
GLANCE_PORT=$((BASE + 10))
NEUTRON_PORT=$((BASE + 11))
RABBIT_PORT=$((BASE + 72))
RABBIT_DIST_PORT=$((BASE + 73))
NOVA_PORT=$((BASE + 74))
PLACEMENT_PORT=$((BASE + 78))
# Where the tests run caas-api: registered in the catalog before it runs.
CAAS_PORT=$((BASE + 20))

HOSTIP=127.0.0.1
KEYSTONE_URL=http://$HOSTIP:$KEYSTONE_PORT/v3
# Every account of this tier has this password: it is a throw-away cloud on
# loopback.
PASSWORD=${CAAS_OSTACK_PASSWORD:-caas-ostack}
DB_USER=openstack
TRANSPORT_URL=rabbit://guest:guest@$HOSTIP:$RABBIT_PORT/

MYSQL_SOCK=$DIR/mysql/mysql.sock
PIDS=$DIR/pids
LOGS=$DIR/logs

RDIR=$DIR/rabbit
export RABBITMQ_NODENAME=ostack-$RABBIT_PORT@localhost
export RABBITMQ_NODE_IP_ADDRESS=$HOSTIP
export RABBITMQ_NODE_PORT=$RABBIT_PORT
export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
export RABBITMQ_MNESIA_BASE=$RDIR/mnesia
export RABBITMQ_LOG_BASE=$RDIR/log
export RABBITMQ_PID_FILE=$RDIR/rabbit.pid
export RABBITMQ_ENABLED_PLUGINS_FILE=$RDIR/enabled_plugins
export RABBITMQ_CONFIG_FILE=$RDIR/rabbitmq
export RABBITMQ_ADVANCED_CONFIG_FILE=$RDIR/advanced.config
export ERL_EPMD_ADDRESS=$HOSTIP
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

say() { echo "local.sh: $*" >&2; }
die() {
  say "$*"
  if [ -n "${CI:-}" ] && [ -d "$LOGS" ]; then
    tail -n 30 "$LOGS"/*.log >&2 || true
  fi
  exit 1
}

port_busy() {
  (exec 3<>"/dev/tcp/$HOSTIP/$1") 2>/dev/null
}

# wait_for NAME SECONDS COMMAND...: poll until COMMAND succeeds; fail if the
# service's process died meanwhile.
wait_for() {
  local name=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$PIDS/$name.pid" ] && ! kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null; then
      die "$name exited while starting (log: $LOGS/$name.log)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name not ready after ${secs}s (log: $LOGS/$name.log)"
    sleep 0.5
  done
}

http_ok() {
  python3 - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code < 500 else 1)
except Exception:
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------- venvs

venv_build() {
  local name=$1
  shift
  [ -f "$CACHE/$name/.installed" ] && return 0
  local t0=$SECONDS
  rm -rf "${CACHE:?}/$name"
  mkdir -p "$CACHE"
  python3 -m venv "$CACHE/$name"
  "$CACHE/$name/bin/pip" install -q "$@" "gunicorn==$GUNICORN_VERSION" \
    "PyMySQL==$PYMYSQL_VERSION" >"$CACHE/$name.pip.log" 2>&1 ||
    die "pip install for $name failed: $CACHE/$name.pip.log"
  touch "$CACHE/$name/.installed"
  say "venv $name built in $((SECONDS - t0)) s"
}

cmd_venvs() {
  # Three independent installs: in parallel, the slowest one sets the time.
  venv_build keystone "keystone==$KEYSTONE_VERSION" &
  local k=$!
  venv_build heat "openstack-heat==$HEAT_VERSION" \
    "python-heatclient==$HEATCLIENT_VERSION" &
  local h=$!
  venv_build nova "nova==$NOVA_VERSION" "openstack-placement==$PLACEMENT_VERSION" &
  local n=$!
  local pid
  for pid in "$k" "$h" "$n"; do
    wait "$pid" || die "a venv failed to build"
  done
}

# ---------------------------------------------------------------- processes

# spawn NAME COMMAND...: run in the background, stdout+stderr to its log,
# PID recorded. setsid: its own process group, so that stop reaches the
# workers a server forks (gunicorn).
spawn() {
  local name=$1
  shift
  mkdir -p "$PIDS" "$LOGS"
  if [ -f "$PIDS/$name.pid" ] && kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null; then
    return 0
  fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

stop_pid() {
  local name=$1 timeout=${2:-10} pid
  [ -f "$PIDS/$name.pid" ] || return 0
  pid=$(cat "$PIDS/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name ($pid) ignored SIGTERM for ${timeout}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDS/$name.pid"
}

# gunicorn_app NAME PORT VENV WSGI_MODULE [ARGS]: one worker, threads, on
# loopback, through the argv-resetting launcher.
gunicorn_app() {
  local name=$1 port=$2 venv=$3 module=$4 args=${5:-}
  port_busy "$port" && ! [ -f "$PIDS/$name.pid" ] &&
    die "port $port is taken by a server we did not start"
  CAAS_OSTACK_WSGI=$module CAAS_OSTACK_ARGS=$args CAAS_OSTACK_PROG=$name \
    spawn "$name" "$CACHE/$venv/bin/gunicorn" --chdir "$HERE" \
    --bind "$HOSTIP:$port" --workers 1 --threads 4 --worker-class gthread \
    --timeout 120 --graceful-timeout 5 --name "$name" wsgi:application
}

# ---------------------------------------------------------------- MariaDB

sql() {
  mariadb --no-defaults -S "$MYSQL_SOCK" -uroot -e "$1"
}

start_mysql() {
  command -v mariadbd >/dev/null ||
    die "mariadb-server is not installed (apt-get install -y mariadb-server)"
  local data=$DIR/mysql/data owner
  owner=$(id -un)
  [ "$(id -u)" = 0 ] && owner=mysql
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"
    chown "$owner" "$DIR/mysql" "$data"
    mariadb-install-db --no-defaults --user="$owner" --datadir="$data" \
      --auth-root-authentication-method=socket >"$DIR/mysql/install.log" 2>&1 ||
      die "mariadb-install-db failed: $DIR/mysql/install.log"
  fi
  if ! sql 'SELECT 1' >/dev/null 2>&1; then
    port_busy "$MYSQL_PORT" && die "port $MYSQL_PORT is taken by a server we did not start"
    spawn mysql mariadbd --no-defaults --user="$owner" --datadir="$data" \
      --socket="$MYSQL_SOCK" --port="$MYSQL_PORT" --bind-address="$HOSTIP" \
      --pid-file="$DIR/mysql/mariadbd.pid" --skip-name-resolve \
      --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0 \
      --max-connections=500 --character-set-server=utf8mb4 \
      --collation-server=utf8mb4_general_ci
    wait_for mysql 60 sql 'SELECT 1'
  fi
  sql "CREATE USER IF NOT EXISTS '$DB_USER'@'$HOSTIP' IDENTIFIED BY '$PASSWORD';
       GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'$HOSTIP' WITH GRANT OPTION;"
  local db
  for db in keystone heat nova_api nova nova_cell0 placement caas; do
    sql "CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4"
  done
}

db_url() {
  echo "mysql+pymysql://$DB_USER:$PASSWORD@$HOSTIP:$MYSQL_PORT/$1?charset=utf8mb4"
}

# ---------------------------------------------------------------- RabbitMQ

start_rabbit() {
  command -v rabbitmq-server >/dev/null ||
    die "rabbitmq-server is not installed (apt-get install -y rabbitmq-server)"
  if rabbitmq-diagnostics -q -n "$RABBITMQ_NODENAME" ping >/dev/null 2>&1; then
    return 0
  fi
  local port
  for port in "$RABBIT_PORT" "$RABBIT_DIST_PORT"; do
    port_busy "$port" && die "port $port is taken by a server we did not start"
  done
  mkdir -p "$RDIR/mnesia" "$RDIR/log"
  [ -f "$RDIR/enabled_plugins" ] || echo '[].' >"$RDIR/enabled_plugins"
  [ -f "$RDIR/rabbitmq.conf" ] || : >"$RDIR/rabbitmq.conf"
  [ -f "$RDIR/advanced.config" ] || echo '[].' >"$RDIR/advanced.config"
  if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq "$RDIR"
  fi
  rabbitmq-server -detached >/dev/null 2>&1
  wait_for rabbit 60 rabbitmq-diagnostics -q -n "$RABBITMQ_NODENAME" ping
  rabbitmqctl -q -n "$RABBITMQ_NODENAME" await_startup --timeout 60 >/dev/null ||
    die "RabbitMQ node $RABBITMQ_NODENAME did not start"
}

stop_rabbit() {
  local pid
  [ -f "$RABBITMQ_PID_FILE" ] || return 0
  pid=$(cat "$RABBITMQ_PID_FILE")
  rabbitmqctl -q -n "$RABBITMQ_NODENAME" shutdown --timeout 20 >/dev/null 2>&1 || true
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RABBITMQ_PID_FILE"
}

# ---------------------------------------------------------------- Keystone

start_keystone() {
  local d=$DIR/keystone bin=$CACHE/keystone/bin
  local conf=$d/keystone.conf user group
  user=$(id -un)
  group=$(id -gn)
  mkdir -p "$d"
  cat >"$conf" <<EOF
[DEFAULT]
debug = false
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $d/fernet-keys
[fernet_receipts]
key_repository = $d/fernet-receipts
[credential]
key_repository = $d/credential-keys
[identity]
# bcrypt at its minimum cost: a password token costs ~300 ms otherwise.
password_hash_rounds = 4
[oslo_policy]
enforce_new_defaults = true
enforce_scope = false
EOF
  # Fernet keys for tokens and receipts, and the credential keys: files,
  # made afresh for a new state directory (also when the database came
  # from the snapshot: nothing in it is encrypted with them).
  if [ ! -d "$d/fernet-keys" ]; then
    {
      "$bin/keystone-manage" --config-file "$conf" fernet_setup \
        --keystone-user "$user" --keystone-group "$group"
      "$bin/keystone-manage" --config-file "$conf" receipt_setup \
        --keystone-user "$user" --keystone-group "$group"
      "$bin/keystone-manage" --config-file "$conf" credential_setup \
        --keystone-user "$user" --keystone-group "$group"
    } >>"$LOGS/keystone-setup.log" 2>&1 ||
      die "Keystone's key set-up failed: $LOGS/keystone-setup.log"
  fi
  if [ ! -f "$d/.bootstrapped" ]; then
    {
      "$bin/keystone-manage" --config-file "$conf" db_sync
      "$bin/keystone-manage" --config-file "$conf" bootstrap \
        --bootstrap-password "$PASSWORD" --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "$KEYSTONE_URL" \
        --bootstrap-internal-url "$KEYSTONE_URL" \
        --bootstrap-public-url "$KEYSTONE_URL"
    } >>"$LOGS/keystone-setup.log" 2>&1 ||
      die "Keystone's set-up failed: $LOGS/keystone-setup.log"
    touch "$d/.bootstrapped"
  fi
  OS_KEYSTONE_CONFIG_FILES=$conf gunicorn_app keystone "$KEYSTONE_PORT" \
    keystone keystone.wsgi.api
  wait_for keystone 60 http_ok "$KEYSTONE_URL"
}

# The accounts, services and endpoints: register.py, run with Heat's venv
# (it has keystoneclient and novaclient).
register() {
  "$CACHE/heat/bin/python" "$HERE/register.py" "$@"
}

# ---------------------------------------------------------------- Heat

auth_section() {
  cat <<EOF
auth_type = password
auth_url = $KEYSTONE_URL
www_authenticate_uri = $KEYSTONE_URL
username = $1
password = $PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
EOF
}

start_heat() {
  local d=$DIR/heat venv=$CACHE/heat
  local conf=$d/heat.conf
  mkdir -p "$d"
  cat >"$conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT_URL
host = ostack-heat
num_engine_workers = 1
region_name_for_services = RegionOne
environment_dir = $venv/etc/heat/environment.d
template_dir = $venv/etc/heat/templates
heat_metadata_server_url = http://$HOSTIP:$HEAT_PORT
heat_waitcondition_server_url = http://$HOSTIP:$HEAT_PORT/v1/waitcondition
# Wait condition handles make a user in this domain (register.py).
stack_user_domain_name = heat
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $PASSWORD
[database]
connection = $(db_url heat)
[paste_deploy]
api_paste_config = $venv/etc/heat/api-paste.ini
[keystone_authtoken]
$(auth_section heat)
[trustee]
auth_type = password
auth_url = $KEYSTONE_URL
username = heat
password = $PASSWORD
user_domain_name = Default
[clients_keystone]
auth_uri = http://$HOSTIP:$KEYSTONE_PORT
[clients]
endpoint_type = public
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
EOF
  if [ ! -f "$d/.synced" ]; then
    "$venv/bin/heat-manage" --config-file "$conf" db_sync >>"$LOGS/heat-setup.log" 2>&1 ||
      die "heat-manage db_sync failed: $LOGS/heat-setup.log"
    touch "$d/.synced"
  fi
  spawn heat-engine "$venv/bin/heat-engine" --config-file "$conf"
  gunicorn_app heat-api "$HEAT_PORT" heat heat.wsgi.api "--config-file $conf"
  wait_for heat-api 60 http_ok "http://$HOSTIP:$HEAT_PORT/"
}

# ---------------------------------------------------------------- Nova

start_nova() {
  local d=$DIR/nova venv=$CACHE/nova
  local conf=$d/nova.conf pconf=$d/placement.conf
  mkdir -p "$d/state" "$d/instances" "$d/locks"
  cat >"$pconf" <<EOF
[DEFAULT]
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
[keystone_authtoken]
$(auth_section placement)
EOF
    cat >"$conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT_URL
host = ostack-compute
my_ip = $HOSTIP
state_path = $d/state
instances_path = $d/instances
compute_driver = fake.FakeDriver
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $venv/etc/nova/api-paste.ini
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[keystone_authtoken]
$(auth_section nova)
[service_user]
send_service_user_token = false
[placement]
$(auth_section placement | sed 's/^username = placement/username = nova/')
[neutron]
$(auth_section nova)
[glance]
region_name = RegionOne
[cinder]
os_region_name = RegionOne
[scheduler]
discover_hosts_in_cells_interval = 2
# One process each: the default, one worker per CPU, doubles their memory.
workers = 1
[conductor]
workers = 1
[oslo_concurrency]
lock_path = $d/locks
[vnc]
enabled = false
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
EOF
  if [ ! -f "$d/.synced" ]; then
    {
      "$venv/bin/placement-manage" --config-file "$pconf" db sync
      "$venv/bin/nova-manage" --config-file "$conf" api_db sync
      "$venv/bin/nova-manage" --config-file "$conf" cell_v2 map_cell0 \
        --database_connection "$(db_url nova_cell0)"
      "$venv/bin/nova-manage" --config-file "$conf" cell_v2 create_cell \
        --name cell1 --verbose || true
      "$venv/bin/nova-manage" --config-file "$conf" db sync
    } >>"$LOGS/nova-setup.log" 2>&1 || die "Nova's database set-up failed: $LOGS/nova-setup.log"
    touch "$d/.synced"
  fi
  spawn standin "$venv/bin/python" "$HERE/standin.py" "$GLANCE_PORT" "$NEUTRON_PORT"
  OS_PLACEMENT_CONFIG_DIR=$d OS_PLACEMENT_CONFIG_FILES=$pconf \
    gunicorn_app placement "$PLACEMENT_PORT" nova placement.wsgi.api
  # nova-api's WSGI loader reads the paste file first, then nova.conf.
  OS_NOVA_CONFIG_DIR=$d OS_NOVA_CONFIG_FILES="$venv/etc/nova/api-paste.ini;$conf" \
    gunicorn_app nova-api "$NOVA_PORT" nova nova.wsgi.osapi_compute
  forget_compute
  local svc
  for svc in conductor scheduler compute; do
    spawn "nova-$svc" "$venv/bin/nova-$svc" --config-file "$conf"
  done
  wait_for placement 90 http_ok "http://$HOSTIP:$PLACEMENT_PORT/"
  wait_for nova-api 90 http_ok "http://$HOSTIP:$NOVA_PORT/"
  # The compute host joins cell1 once it has reported in.
  wait_for nova-compute 120 discover_compute
}

# The fake virt driver names its node with a UUID drawn anew by each
# nova-compute process, so a compute record (and its Placement resource
# provider) from an earlier run would clash with the new one: a compute
# that is about to start forgets them. It runs no real servers, so nothing
# is lost that a test could need.
forget_compute() {
  [ -f "$PIDS/nova-compute.pid" ] && kill -0 "$(cat "$PIDS/nova-compute.pid")" 2>/dev/null &&
    return 0
  sql "SET FOREIGN_KEY_CHECKS = 0;
       DELETE FROM nova.compute_nodes;
       DELETE FROM nova.services WHERE \`binary\` = 'nova-compute';
       DELETE FROM nova_api.host_mappings;
       DELETE FROM placement.allocations;
       DELETE FROM placement.inventories;
       DELETE FROM placement.resource_provider_traits;
       DELETE FROM placement.resource_provider_aggregates;
       DELETE FROM placement.resource_providers;
       SET FOREIGN_KEY_CHECKS = 1;"
}

discover_compute() {
  "$CACHE/nova/bin/nova-manage" --config-file "$DIR/nova/nova.conf" \
    cell_v2 discover_hosts --verbose 2>/dev/null | grep -q -E 'ostack-compute|Found 0 unmapped' &&
    "$CACHE/nova/bin/nova-manage" --config-file "$DIR/nova/nova.conf" \
      cell_v2 list_hosts 2>/dev/null | grep -q ostack-compute
}

# ---------------------------------------------------------------- commands

print_env() {
  cat <<EOF
export CAAS_OSTACK_AUTH_URL=$KEYSTONE_URL
export CAAS_OSTACK_PASSWORD=$PASSWORD
export CAAS_OSTACK_DB_URL=$(db_url caas)
export CAAS_OSTACK_DB_ADMIN_URL=mysql+pymysql://$DB_USER:$PASSWORD@$HOSTIP:$MYSQL_PORT/?charset=utf8mb4
export CAAS_OSTACK_TRANSPORT_URL=$TRANSPORT_URL
export CAAS_OSTACK_HEAT_URL=http://$HOSTIP:$HEAT_PORT
export CAAS_OSTACK_NOVA_URL=http://$HOSTIP:$NOVA_PORT
export CAAS_OSTACK_CAAS_PORT=$CAAS_PORT
EOF
}

# The services' databases right after a first complete start (migrated,
# bootstrapped, registered, compute host mapped), kept beside the venvs: a
# later start into a new state directory loads it in seconds instead of
# running every service's migrations again (minutes). It is only valid for
# the same versions, ports, password and registrations, all in its name;
# bump SNAPSHOT_FORMAT when a change here alters what the databases hold.
SNAPSHOT_FORMAT=1
snapshot_file() {
  local sum
  sum=$({ cat "$HERE/register.py" "$HERE/versions.sh"
    echo "$PASSWORD $SNAPSHOT_FORMAT"; } | sha256sum | cut -c1-12)
  echo "$CACHE/state-$BASE-$sum.sql.gz"
}

OSTACK_DBS="keystone heat nova_api nova nova_cell0 placement"

restore_snapshot() {
  local snap
  snap=$(snapshot_file)
  [ -f "$snap" ] || return 1
  [ -f "$DIR/keystone/.bootstrapped" ] && return 1
  local db
  for db in $OSTACK_DBS; do
    sql "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8mb4"
  done
  # shellcheck disable=SC2086
  gunzip -c "$snap" | mariadb --no-defaults -S "$MYSQL_SOCK" -uroot ||
    die "loading $snap failed"
  mkdir -p "$DIR/keystone" "$DIR/heat" "$DIR/nova"
  touch "$DIR/keystone/.bootstrapped" "$DIR/heat/.synced" "$DIR/nova/.synced"
  say "databases loaded from $snap"
}

save_snapshot() {
  local snap
  snap=$(snapshot_file)
  [ -f "$snap" ] && return 0
  # shellcheck disable=SC2086
  mariadb-dump --no-defaults -S "$MYSQL_SOCK" -uroot --single-transaction \
    --databases $OSTACK_DBS | gzip -1 >"$snap.tmp" && mv "$snap.tmp" "$snap"
}

cmd_start() {
  local t0=$SECONDS restored=
  mkdir -p "$DIR" "$PIDS" "$LOGS"
  cmd_venvs
  start_mysql
  restore_snapshot && restored=1
  start_rabbit
  start_keystone
  [ -n "$restored" ] || register accounts --auth-url "$KEYSTONE_URL" --password "$PASSWORD" \
    --heat-port "$HEAT_PORT" --nova-port "$NOVA_PORT" \
    --placement-port "$PLACEMENT_PORT" --glance-port "$GLANCE_PORT" \
    --neutron-port "$NEUTRON_PORT" --caas-port "$CAAS_PORT" \
    >>"$LOGS/register.log" 2>&1 || die "registering accounts failed: $LOGS/register.log"
  start_heat
  start_nova
  if [ -z "$restored" ]; then
    register nova --auth-url "$KEYSTONE_URL" --password "$PASSWORD" \
      >>"$LOGS/register.log" 2>&1 || die "flavors and keypairs failed: $LOGS/register.log"
    save_snapshot
  fi
  say "ready in $((SECONDS - t0)) s"
  print_env
}

cmd_stop() {
  local name
  for name in nova-api nova-compute nova-scheduler nova-conductor placement \
    standin heat-api heat-engine keystone; do
    stop_pid "$name" 15
  done
  stop_rabbit
  stop_pid mysql 30
}

# Proportional set size of each service (its whole process group), in MB,
# and the total: what the tier costs in memory.
cmd_memory() {
  local f name pid total=0 kb
  pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
  for f in "$PIDS"/*.pid "$RABBITMQ_PID_FILE"; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    kb=0
    for pid in $(pgrep -g "$(cat "$f")" 2>/dev/null || cat "$f"); do
      kb=$((kb + $(pss "$pid")))
    done
    echo "$name $((kb / 1024)) MB"
    total=$((total + kb))
  done
  echo "total $((total / 1024)) MB"
}

cmd_status() {
  local f name
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    if kill -0 "$(cat "$f")" 2>/dev/null; then
      echo "$name running ($(cat "$f"))"
    else
      echo "$name dead"
    fi
  done
}

case "${1:-}" in
  venvs) cmd_venvs ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) print_env ;;
  db) mkdir -p "$DIR" "$PIDS" "$LOGS"; start_mysql; print_env ;;
  status) cmd_status ;;
  memory) cmd_memory ;;
  *) echo "usage: $0 venvs|start|stop|env|status|memory|db" >&2; exit 2 ;;
esac
