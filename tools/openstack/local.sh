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
# A start is cached: the venvs, Keystone's key repositories and the
# databases as a first start left them (an SQL dump and a MariaDB data
# directory made from it) are kept under CAAS_OSTACK_CACHE, and a later
# start copies them and starts every service at once.
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
# The Neutron stand-in's `private` subnet, where Nova's servers get their
# addresses: a /24 in 127.0.0.0/8 made from the port base, so two tiers
# with different bases never hand out the same address.
PRIVATE_SUBNET=127.$((BASE >> 8 & 255)).$((BASE & 255)).0/24
KEYSTONE_URL=http://$HOSTIP:$KEYSTONE_PORT/v3
# Every account of this tier has this password: it is a throw-away cloud on
# loopback.
PASSWORD=${CAAS_OSTACK_PASSWORD:-caas-ostack}
DB_USER=openstack
TRANSPORT_URL=rabbit://guest:guest@$HOSTIP:$RABBIT_PORT/

MYSQL_SOCK=$DIR/mysql/mysql.sock
PIDS=$DIR/pids
LOGS=$DIR/logs

# shellcheck source-path=SCRIPTDIR source=../lib/rabbitmq.sh
. "$HERE/../lib/rabbitmq.sh"
rabbit_node_env ostack "$RABBIT_PORT" "$RABBIT_DIST_PORT" "$DIR/rabbit"

say() { echo "local.sh: $*" >&2; }
T0=$SECONDS
# A step's end and the seconds since the command began: where a start
# spends its time.
step() { say "$* (+$((SECONDS - T0)) s)"; }
die() {
  say "$*"
  if [ -n "${CI:-}" ] && [ -d "$LOGS" ]; then
    tail -n 30 "$LOGS"/*.log >&2 || true
  fi
  exit 1
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

# stop_pids TIMEOUT NAME...: SIGTERM to every one's process group at once,
# then SIGKILL to those still alive after TIMEOUT seconds (heat-engine,
# nova-scheduler and nova-compute were seen ignoring SIGTERM for over 10 s:
# one after the other, their timeouts added up to ~45 s).
stop_pids() {
  local timeout=$1 name pid live=()
  shift
  for name in "$@"; do
    [ -f "$PIDS/$name.pid" ] || continue
    pid=$(cat "$PIDS/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      live+=("$name:$pid")
    fi
  done
  local deadline=$((SECONDS + timeout)) entry waiting
  while [ "${#live[@]}" -gt 0 ]; do
    waiting=()
    for entry in "${live[@]}"; do
      kill -0 "${entry#*:}" 2>/dev/null && waiting+=("$entry")
    done
    live=("${waiting[@]+"${waiting[@]}"}")
    if [ "${#live[@]}" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ]; then
      break
    fi
    sleep 0.2
  done
  for entry in "${live[@]+"${live[@]}"}"; do
    say "${entry%%:*} (${entry#*:}) ignored SIGTERM for ${timeout}s: SIGKILL"
    kill -KILL -- "-${entry#*:}" 2>/dev/null || kill -KILL "${entry#*:}" 2>/dev/null || true
  done
  for name in "$@"; do
    rm -f "$PIDS/$name.pid"
  done
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

# The first column of the first row of a query.
sql_value() {
  mariadb --no-defaults -S "$MYSQL_SOCK" -uroot -N -B -e "$1"
}

start_mysql() {
  command -v mariadbd >/dev/null ||
    die "mariadb-server is not installed (apt-get install -y mariadb-server)"
  local data=$DIR/mysql/data owner
  owner=$(id -un)
  [ "$(id -u)" = 0 ] && owner=mysql
  if [ ! -d "$data/mysql" ] && [ -d "$(snapshot_file).datadir" ]; then
    # A data directory made from the snapshot (save_datadir): no
    # mariadb-install-db and no dump to load.
    mkdir -p "$DIR/mysql"
    cp -a "$(snapshot_file).datadir" "$data"
    chown "$owner" "$DIR/mysql"
    DATADIR_RESTORED=1
  fi
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
  rabbit_start || die "RabbitMQ node $RABBITMQ_NODENAME did not start (log: $RABBIT_DIR/log)"
}

stop_rabbit() {
  rabbit_stop
}

# ---------------------------------------------------------------- Keystone

setup_keystone() {
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
  # made by keystone-manage once per machine (three interpreter starts,
  # ~20 s each on a loaded machine) and copied from the cache after that
  # (nothing in the snapshot's databases is encrypted with them).
  local keys=$CACHE/keystone-keys
  if [ ! -d "$d/fernet-keys" ] && [ -d "$keys/fernet-keys" ]; then
    cp -a "$keys/fernet-keys" "$keys/fernet-receipts" "$keys/credential-keys" "$d/"
  fi
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
    rm -rf "$keys.tmp"
    mkdir -p "$keys.tmp"
    cp -a "$d/fernet-keys" "$d/fernet-receipts" "$d/credential-keys" "$keys.tmp/"
    rm -rf "$keys"
    mv "$keys.tmp" "$keys"
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
}

spawn_keystone() {
  OS_KEYSTONE_CONFIG_FILES=$DIR/keystone/keystone.conf gunicorn_app keystone \
    "$KEYSTONE_PORT" keystone keystone.wsgi.api
}

wait_keystone() {
  wait_for keystone 120 http_ok "$KEYSTONE_URL"
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

setup_heat() {
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
}

spawn_heat() {
  local conf=$DIR/heat/heat.conf
  spawn heat-engine "$CACHE/heat/bin/heat-engine" --config-file "$conf"
  gunicorn_app heat-api "$HEAT_PORT" heat heat.wsgi.api "--config-file $conf"
}

wait_heat() {
  wait_for heat-api 120 http_ok "http://$HOSTIP:$HEAT_PORT/"
}

# ---------------------------------------------------------------- Nova

setup_nova() {
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
# No Neutron agent plugs a port here: no network-vif-plugged event comes.
vif_plugging_timeout = 0
vif_plugging_is_fatal = false
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
}

spawn_nova() {
  local d=$DIR/nova venv=$CACHE/nova
  local conf=$d/nova.conf pconf=$d/placement.conf
  spawn standin "$venv/bin/python" "$HERE/standin.py" "$GLANCE_PORT" "$NEUTRON_PORT" \
    "$PRIVATE_SUBNET"
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
}

wait_nova() {
  wait_for placement 120 http_ok "http://$HOSTIP:$PLACEMENT_PORT/"
  wait_for nova-api 120 http_ok "http://$HOSTIP:$NOVA_PORT/"
  # The compute host is usable once nova-scheduler's periodic discovery
  # ([scheduler] discover_hosts_in_cells_interval) has mapped it into cell1
  # and its resource provider has inventory in Placement: read from the
  # databases, where a nova-manage call costs an interpreter start (~10 s
  # on a loaded machine) per poll.
  wait_for nova-compute 180 compute_ready
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

compute_ready() {
  [ "$(sql_value "SELECT COUNT(*) FROM nova_api.host_mappings
                  WHERE host = 'ostack-compute'")" -ge 1 ] &&
    [ "$(sql_value "SELECT COUNT(*) FROM placement.inventories")" -ge 1 ]
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
export CAAS_OSTACK_PRIVATE_SUBNET=$PRIVATE_SUBNET
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
  if [ -z "${DATADIR_RESTORED:-}" ]; then
    local db
    for db in $OSTACK_DBS; do
      sql "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8mb4"
    done
    gunzip -c "$snap" | mariadb --no-defaults -S "$MYSQL_SOCK" -uroot ||
      die "loading $snap failed"
    say "databases loaded from $snap"
  else
    say "databases copied from $snap.datadir"
  fi
  mkdir -p "$DIR/keystone" "$DIR/heat" "$DIR/nova"
  touch "$DIR/keystone/.bootstrapped" "$DIR/heat/.synced" "$DIR/nova/.synced" \
    "$DIR/.registered"
}

save_snapshot() {
  local snap
  snap=$(snapshot_file)
  [ -f "$snap" ] && return 0
  # shellcheck disable=SC2086
  mariadb-dump --no-defaults -S "$MYSQL_SOCK" -uroot --single-transaction \
    --databases $OSTACK_DBS | gzip -1 >"$snap.tmp" && mv "$snap.tmp" "$snap"
}

# A MariaDB data directory holding the snapshot, beside it: a start copies
# it (a second or two) instead of running mariadb-install-db and loading
# the dump (~40 s on a loaded machine: hundreds of CREATE TABLEs). Made
# once per machine, from the dump, by a server of its own on a socket of
# its own (a copy of the running server's files would not be consistent).
save_datadir() {
  local snap dd tmp run owner
  snap=$(snapshot_file)
  dd=$snap.datadir
  [ -f "$snap" ] && [ ! -d "$dd" ] || return 0
  owner=$(id -un)
  [ "$(id -u)" = 0 ] && owner=mysql
  tmp=$dd.tmp-$$
  # (A socket's path must stay under 108 bytes: not in the cache.)
  run=$DIR/datadir-run
  rm -rf "$tmp" "$run"
  mkdir -p "$tmp" "$run"
  chown "$owner" "$tmp" "$run"
  mariadb-install-db --no-defaults --user="$owner" --datadir="$tmp" \
    --auth-root-authentication-method=socket >"$LOGS/datadir.log" 2>&1 || {
    say "mariadb-install-db failed, no cached data directory: $LOGS/datadir.log"
    rm -rf "$tmp" "$run"
    return 0
  }
  mariadbd --no-defaults --user="$owner" --datadir="$tmp" \
    --socket="$run/sock" --pid-file="$run/pid" --skip-networking \
    --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    >>"$LOGS/datadir.log" 2>&1 &
  local pid=$!
  local tsql=(mariadb --no-defaults -S "$run/sock" -uroot)
  for _ in $(seq 1 120); do
    "${tsql[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  # A cache that could not be made is only a slower next start.
  if {
    "${tsql[@]}" -e "CREATE USER IF NOT EXISTS '$DB_USER'@'$HOSTIP' IDENTIFIED BY '$PASSWORD';
      GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'$HOSTIP' WITH GRANT OPTION;
      CREATE DATABASE IF NOT EXISTS caas CHARACTER SET utf8mb4" &&
      gunzip -c "$snap" | "${tsql[@]}" &&
      mariadb-admin --no-defaults -S "$run/sock" -uroot shutdown
  } >>"$LOGS/datadir.log" 2>&1 && wait "$pid"; then
    mv "$tmp" "$dd"
    step "data directory cached: $dd"
  else
    kill -KILL "$pid" 2>/dev/null || true
    say "no cached data directory (log: $LOGS/datadir.log)"
    rm -rf "$tmp"
  fi
  rm -rf "$run"
}

register_args() {
  echo --auth-url "$KEYSTONE_URL" --password "$PASSWORD"
}

cmd_start() {
  local registered=
  mkdir -p "$DIR" "$PIDS" "$LOGS"
  cmd_venvs
  step "venvs"
  start_mysql
  restore_snapshot || true
  [ -f "$DIR/.registered" ] && registered=1
  step "MariaDB${registered:+ with the snapshot}"
  # Everything else starts at once: the services wait for each other by
  # themselves (retrying their database, broker and Keystone), and two
  # cores are kept busy instead of one waiting on each start in turn.
  start_rabbit &
  local rabbit=$!
  setup_keystone
  setup_heat
  setup_nova
  step "configured"
  spawn_keystone
  if [ -z "$registered" ]; then
    wait_keystone
    # shellcheck disable=SC2046
    register accounts $(register_args) \
      --heat-port "$HEAT_PORT" --nova-port "$NOVA_PORT" \
      --placement-port "$PLACEMENT_PORT" --glance-port "$GLANCE_PORT" \
      --neutron-port "$NEUTRON_PORT" --caas-port "$CAAS_PORT" \
      >>"$LOGS/register.log" 2>&1 || die "registering accounts failed: $LOGS/register.log"
  fi
  spawn_heat
  spawn_nova
  wait "$rabbit" || die "RabbitMQ did not start"
  wait_keystone
  wait_heat
  wait_nova
  step "services ready"
  if [ -z "$registered" ]; then
    # shellcheck disable=SC2046
    register nova $(register_args) \
      >>"$LOGS/register.log" 2>&1 || die "flavors and keypairs failed: $LOGS/register.log"
    touch "$DIR/.registered"
    save_snapshot
  fi
  save_datadir
  step "ready"
  print_env
}

cmd_stop() {
  stop_rabbit &
  local rabbit=$!
  stop_pids 15 nova-api nova-compute nova-scheduler nova-conductor placement \
    standin heat-api heat-engine keystone
  wait "$rabbit" || true
  stop_pids 30 mysql
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
