#!/usr/bin/env bash
# OpenStack's Magnum API tests (magnum-tempest-plugin) against caas.
#
#   tools/tempest.sh venv   install tempest + the plugin into the cached venv
#   tools/tempest.sh [run]  start caas in keystone mode (caas-cloudsim,
#                           caas-api with keystonemiddleware, ONE
#                           caas-conductor) on the PostgreSQL and RabbitMQ of
#                           tools/services.sh, run the plugin's API tests
#                           serially, print the tally and exit non-zero on a
#                           failure not listed in tools/tempest-expected.txt
#
# The tempest venv lives outside the repository, cached between runs in
# $CAAS_CACHE (default /var/cache/caas-ci), one directory per pinned pair of
# versions. Logs, the tempest workspace and the caas config are kept in
# $CAAS_TEMPEST_DIR (default: a new directory under /tmp), printed at the end.
# Every process this script starts is stopped by its PID on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

TEMPEST_VERSION=47.0.0
PLUGIN_VERSION=2.12.0
CACHE=${CAAS_CACHE:-/var/cache/caas-ci}
TVENV=$CACHE/tempest-$TEMPEST_VERSION-magnum-$PLUGIN_VERSION
CAAS_BIN=${CAAS_BIN:-$ROOT/.venv/bin}
REGEX=${CAAS_TEMPEST_REGEX:-magnum_tempest_plugin.tests.api}
# Minutes: the plugin waits cluster_creation_timeout + 10 for a create.
CREATE_TIMEOUT=${CAAS_TEMPEST_CREATE_TIMEOUT:-1}

ensure_venv() {
  [ -f "$TVENV/.installed" ] && return 0
  mkdir -p "$CACHE"
  rm -rf "$TVENV"
  python3 -m venv "$TVENV"
  "$TVENV/bin/pip" install -q "tempest==$TEMPEST_VERSION" \
    "magnum-tempest-plugin==$PLUGIN_VERSION" >&2
  touch "$TVENV/.installed"
}

free_port() {
  "$CAAS_BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
  "$CAAS_BIN/python" - "$1" <<'PY'
import sys, time, urllib.error, urllib.request
deadline = time.monotonic() + 120
while True:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2)
        break
    except urllib.error.HTTPError:
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit('%s did not answer' % sys.argv[1])
        time.sleep(0.2)
PY
}

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

write_caas_conf() {
  cat >"$WORK/caas.conf" <<EOF
[DEFAULT]
transport_url = $CAAS_TEST_TRANSPORT_URL
auth_strategy = keystone
host = tempest-conductor
[database]
connection = $DB_URL
[api]
host = 127.0.0.1
port = $API_PORT
[cloud]
auth_url = $SIM/identity/v3
username = caas
password = caas
project_name = service
[sim]
host = 127.0.0.1
port = $SIM_PORT
state_dir = $WORK/cloudsim
server_boot_delay = 0.5
resource_delay = 0.02
delete_delay = 0.2
[keystone_authtoken]
www_authenticate_uri = $SIM/identity/v3
auth_url = $SIM/identity/v3
auth_type = password
username = caas
password = caas
project_name = service
user_domain_name = Default
project_domain_name = Default
[pki]
encryption_keys = $PKI_KEY
[health]
probe_networks = 127.0.0.0/8
[conductor]
topic = caas-tempest-$API_PORT
stack_poll_initial = 0.2
stack_poll_max = 1
EOF
}

write_tempest_conf() {
  cat >"$WORK/ws/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $WORK/ws/logs
log_file = tempest.log
[auth]
use_dynamic_credentials = True
admin_username = admin
admin_password = caas
admin_project_name = admin
admin_domain_name = Default
create_isolated_networks = False
[identity]
uri_v3 = $SIM/identity/v3
auth_version = v3
region = RegionOne
[identity-feature-enabled]
api_v2 = False
[service_available]
magnum = True
neutron = False
cinder = False
swift = False
glance = True
nova = True
[validation]
run_validation = False
[enforce_scope]
magnum = True
[magnum]
image_id = fedora-coreos
flavor_id = m1.small
master_flavor_id = m1.small
keypair_name = magnum-tempest
nic_id = public
coe = kubernetes
copy_logs = False
copy_logs_success = False
cluster_creation_timeout = $CREATE_TIMEOUT
cluster_delete_timeout = 1
EOF
}

run() {
  ensure_venv
  [ -x "$CAAS_BIN/caas-api" ] || { echo "no caas venv at $CAAS_BIN (make .venv/.caas-installed)" >&2; return 1; }
  if [ -z "${CAAS_TEST_DB_URL:-}" ] || [ -z "${CAAS_TEST_TRANSPORT_URL:-}" ]; then
    eval "$(tools/services.sh start)"
  fi
  WORK=${CAAS_TEMPEST_DIR:-$(mktemp -d /tmp/caas-tempest.XXXXXX)}
  mkdir -p "$WORK"
  trap stop_all EXIT
  DB_URL=$("$CAAS_BIN/python" -c 'import os, sys; sys.path.insert(0, "tests/integration"); import deployment; print(deployment.create_database(os.environ["CAAS_TEST_DB_URL"]))')
  API_PORT=$(free_port)
  SIM_PORT=$(free_port)
  SIM=http://127.0.0.1:$SIM_PORT
  PKI_KEY=$("$CAAS_BIN/python" -c 'from cryptography import fernet; print(fernet.Fernet.generate_key().decode())')
  write_caas_conf
  "$CAAS_BIN/caas-manage" --config-file "$WORK/caas.conf" db upgrade >"$WORK/db.log" 2>&1
  start cloudsim "$CAAS_BIN/caas-cloudsim" --config-file "$WORK/caas.conf" \
    --container-infra-url "http://127.0.0.1:$API_PORT/v1"
  wait_http "$SIM/sim/state"
  start api "$CAAS_BIN/caas-api" --config-file "$WORK/caas.conf"
  start conductor "$CAAS_BIN/caas-conductor" --config-file "$WORK/caas.conf"
  wait_http "http://127.0.0.1:$API_PORT/"

  rm -rf "$WORK/ws"
  (cd "$WORK" && "$TVENV/bin/tempest" init --workspace-path "$WORK/workspaces.yaml" --name caas-tempest ws >/dev/null 2>&1)
  write_tempest_conf
  local started=$SECONDS rc=0
  (cd "$WORK/ws" && "$TVENV/bin/tempest" run --serial --regex "$REGEX" \
     >"$WORK/tempest-run.log" 2>&1) || true
  echo "tempest run took $((SECONDS - started)) s; logs in $WORK"
  (cd "$WORK/ws" && "$TVENV/bin/stestr" last --subunit) \
    | "$TVENV/bin/python" "$ROOT/tools/tempest_tally.py" \
        "$ROOT/tools/tempest-expected.txt" || rc=$?
  return $rc
}

case "${1:-run}" in
  venv) ensure_venv; echo "$TVENV" ;;
  run) run ;;
  *) echo "usage: $0 [venv|run]" >&2; exit 2 ;;
esac
