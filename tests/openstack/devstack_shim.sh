# shellcheck shell=bash disable=SC2034
# (SC2034: the variables are devstack's, for the plugin, not for the shim.)
# Stand-ins for the devstack functions and variables the caas devstack
# plugin (devstack/) uses, implemented for real against the services of
# tools/openstack/local.sh: iniset writes ini files, get_or_create_* call
# the openstack CLI against the tier's Keystone, recreate_database talks to
# the tier's MariaDB, run_process starts a process and stop_process stops
# it. Same names, arguments and output as devstack's functions-common,
# lib/database and lib/keystone, so the plugin runs unchanged.
#
# Sourced by tests/openstack/test_devstack_plugin.py before the plugin's
# settings and plugin.sh. Input (environment):
#   SHIM_DIR             where the shim keeps process ids and logs
#   SHIM_BIN             the bin directory of caas's Python environment
#   CAAS_OSTACK_*        what `tools/openstack/local.sh env` prints
# and any devstack variable below, which the test may set first.

set -o errexit -o nounset -o pipefail

: "${SHIM_DIR:?}" "${SHIM_BIN:?}" "${CAAS_OSTACK_AUTH_URL:?}"
: "${CAAS_OSTACK_PASSWORD:?}" "${CAAS_OSTACK_DB_ADMIN_URL:?}"
: "${CAAS_OSTACK_TRANSPORT_URL:?}"
mkdir -p "$SHIM_DIR/pids" "$SHIM_DIR/logs"

# ------------------------------------------------------------- variables

# The tier's MariaDB, from its admin URL
# (mysql+pymysql://USER:PASSWORD@HOST:PORT/?charset=utf8mb4).
_shim_db=${CAAS_OSTACK_DB_ADMIN_URL#*://}
DATABASE_USER=${_shim_db%%:*}
_shim_db=${_shim_db#*:}
DATABASE_PASSWORD=${_shim_db%%@*}
_shim_db=${_shim_db#*@}
_shim_db=${_shim_db%%/*}
DATABASE_HOST=${_shim_db%%:*}
SHIM_MYSQL_PORT=${_shim_db##*:}
MYSQL_HOST=$DATABASE_HOST
DATABASE_TYPE=mysql

STACK_USER=${STACK_USER:-$(id -un)}
DEST=${DEST:-$SHIM_DIR/dest}
DATA_DIR=${DATA_DIR:-$SHIM_DIR/data}
SERVICE_HOST=${SERVICE_HOST:-127.0.0.1}
SERVICE_LISTEN_ADDRESS=${SERVICE_LISTEN_ADDRESS:-127.0.0.1}
SERVICE_PROTOCOL=${SERVICE_PROTOCOL:-http}
SERVICE_PASSWORD=${SERVICE_PASSWORD:-$CAAS_OSTACK_PASSWORD}
SERVICE_PROJECT_NAME=${SERVICE_PROJECT_NAME:-service}
SERVICE_DOMAIN_NAME=${SERVICE_DOMAIN_NAME:-Default}
SERVICE_TIMEOUT=${SERVICE_TIMEOUT:-90}
REGION_NAME=${REGION_NAME:-RegionOne}
KEYSTONE_SERVICE_URI=${CAAS_OSTACK_AUTH_URL%/v3}
ENABLE_DEBUG_LOG_LEVEL=${ENABLE_DEBUG_LOG_LEVEL:-True}
ENFORCE_SCOPE=${ENFORCE_SCOPE:-False}
API_WORKERS=${API_WORKERS:-1}
ENABLED_SERVICES=${ENABLED_SERVICES:-key,mysql,rabbit}

# The openstack CLI as devstack's admin.
export OS_AUTH_URL=$CAAS_OSTACK_AUTH_URL OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin OS_PASSWORD=$CAAS_OSTACK_PASSWORD
export OS_PROJECT_NAME=admin OS_USER_DOMAIN_ID=default
export OS_PROJECT_DOMAIN_ID=default OS_REGION_NAME=$REGION_NAME
unset OS_CLOUD OS_TOKEN OS_ENDPOINT OS_AUTH_TYPE

# ------------------------------------------------------------- services

function enable_service {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] ||
            ENABLED_SERVICES="$ENABLED_SERVICES,$service"
    done
}

function disable_service {
    local service
    for service in "$@"; do
        ENABLED_SERVICES=$(echo ",$ENABLED_SERVICES," |
            sed "s/,$service,/,/g; s/^,//; s/,$//")
    done
}

# True if any of the services is enabled (devstack's semantics).
function is_service_enabled {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
    done
    return 1
}

function echo_summary {
    echo "devstack-shim: $*" >&2
}

function die {
    local line=$1
    shift
    echo "devstack-shim: [line $line] $*" >&2
    exit 1
}

# ------------------------------------------------------------- python

function get_python_exec_prefix {
    echo "$SHIM_BIN"
}

function pip_install {
    "$SHIM_BIN/pip" install -q "$@"
}

# pip install -e, unless that tree is what the environment already runs
# (the test's own caas): reinstalling would rewrite the scripts other
# processes are starting from.
function setup_develop {
    local dir=$1 where
    where=$("$SHIM_BIN/python" -c \
        'import os, caas; print(os.path.dirname(os.path.dirname(os.path.realpath(caas.__file__))))' \
        2>/dev/null || true)
    if [[ "$where" == "$(cd "$dir" && pwd -P)" ]]; then
        echo "devstack-shim: $dir is installed in develop mode" >&2
        return 0
    fi
    pip_install -e "$dir"
}

# ------------------------------------------------------------- ini files

# iniset FILE SECTION OPTION VALUE: set (or add) one option, keeping the
# rest of the file. (awk, not Python: an interpreter start per option
# cost ~1 s each on a loaded machine.) Values go through the environment,
# so that awk interprets no backslash in them.
function iniset {
    local file=$1 tmp
    [[ -f "$file" ]] || : >"$file"
    tmp=$(mktemp "$file.XXXXXX")
    INI_SECTION=$2 INI_OPTION=$3 INI_VALUE=$4 awk '
        function key(line) {
            sub(/=.*/, "", line)
            gsub(/^[ \t]+|[ \t]+$/, "", line)
            return line
        }
        function emit() {
            print ENVIRON["INI_OPTION"] " = " ENVIRON["INI_VALUE"]
            done = 1
        }
        /^\[/ {
            if (in_section && !done) emit()
            in_section = ($0 == "[" ENVIRON["INI_SECTION"] "]")
            if (in_section) seen = 1
            print
            next
        }
        in_section && !done && /=/ && key($0) == ENVIRON["INI_OPTION"] {
            emit()
            next
        }
        { print }
        END {
            if (!seen) print "[" ENVIRON["INI_SECTION"] "]"
            if (!done) emit()
        }' "$file" >"$tmp"
    cat "$tmp" >"$file"
    rm -f "$tmp"
}

# iniget FILE SECTION OPTION: the option's value, empty if it is not set.
function iniget {
    INI_SECTION=$2 INI_OPTION=$3 awk '
        /^\[/ { in_section = ($0 == "[" ENVIRON["INI_SECTION"] "]"); next }
        in_section && /=/ {
            k = $0; sub(/=.*/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", k)
            if (k == ENVIRON["INI_OPTION"]) {
                v = $0; sub(/^[^=]*=[ \t]*/, "", v)
                print v
                exit
            }
        }' "$1"
}

# ------------------------------------------------------------- messaging and databases

function get_transport_url {
    echo "$CAAS_OSTACK_TRANSPORT_URL"
}

# The tier's MariaDB listens on its own port, not devstack's 3306.
function mysql {
    command mariadb --no-defaults --protocol=TCP -P "$SHIM_MYSQL_PORT" "$@"
}

function database_connection_url {
    echo "mysql+pymysql://$DATABASE_USER:$DATABASE_PASSWORD@$DATABASE_HOST:$SHIM_MYSQL_PORT/$1?charset=utf8"
}

function recreate_database {
    mysql -u"$DATABASE_USER" -p"$DATABASE_PASSWORD" -h"$MYSQL_HOST" \
        -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1 CHARACTER SET utf8;"
}

# ------------------------------------------------------------- keystone

function openstack {
    "$SHIM_BIN/openstack" "$@"
}

function get_or_create_domain {
    openstack domain create "$1" --description "$2" --or-show -f value -c id
}

# get_or_create_user NAME PASSWORD DOMAIN [EMAIL]
function get_or_create_user {
    local email=()
    if [[ -n "${4:-}" ]]; then
        email=(--email "$4")
    fi
    openstack user create "$1" --password "$2" --domain "$3" \
        "${email[@]}" --or-show -f value -c id
}

function get_or_create_role {
    openstack role create "$1" --or-show -f value -c id
}

# get_or_add_user_project_role ROLE USER PROJECT [USER_DOMAIN PROJECT_DOMAIN]
# (Keystone's role add is itself idempotent: one call, whose role id is
# echoed as devstack echoes it.)
function get_or_add_user_project_role {
    openstack role add "$1" --user "$2" --project "$3" \
        --user-domain "${4:-Default}" --project-domain "${5:-Default}" >&2
    echo "$1"
}

# get_or_add_user_domain_role ROLE USER DOMAIN
function get_or_add_user_domain_role {
    openstack role add "$1" --user "$2" --domain "$3" >&2
    echo "$1"
}

# create_service_user NAME [ROLE]: a user in the service domain with ROLE
# (devstack's default: service) on the service project.
function create_service_user {
    local role=${2:-service}
    get_or_create_user "$1" "$SERVICE_PASSWORD" "$SERVICE_DOMAIN_NAME" \
        "$1@example.com" >/dev/null
    get_or_add_user_project_role "$role" "$1" "$SERVICE_PROJECT_NAME" \
        "$SERVICE_DOMAIN_NAME" "$SERVICE_DOMAIN_NAME" >/dev/null
}

# get_or_create_service NAME TYPE DESCRIPTION: its id.
function get_or_create_service {
    local id
    id=$(openstack service list --long -f value -c ID -c Name -c Type |
        awk -v n="$1" -v t="$2" '$2 == n && $3 == t {print $1; exit}')
    if [[ -z "$id" ]]; then
        id=$(openstack service create "$2" --name "$1" \
            --description "$3" -f value -c id)
    fi
    echo "$id"
}

# get_or_create_endpoint SERVICE REGION PUBLIC_URL [ADMIN_URL [INTERNAL_URL]]:
# an endpoint per interface given, unless the service has one for that
# interface and region; echoes the public endpoint's id.
function get_or_create_endpoint {
    local existing interface url id public=""
    existing=$(openstack endpoint list --service "$1" --region "$2" \
        -f value -c ID -c Interface)
    for interface in public admin internal; do
        case $interface in
            public) url=$3 ;;
            admin) url=${4:-} ;;
            internal) url=${5:-} ;;
        esac
        [[ -n "$url" ]] || continue
        id=$(echo "$existing" | awk -v i="$interface" '$2 == i {print $1; exit}')
        if [[ -z "$id" ]]; then
            id=$(openstack endpoint create "$1" "$interface" "$url" \
                --region "$2" -f value -c id)
        fi
        [[ $interface == public ]] && public=$id
    done
    echo "$public"
}

# get_or_create_project NAME DOMAIN
function get_or_create_project {
    openstack project create "$1" --domain "$2" --or-show -f value -c id
}

# configure_keystone_authtoken_middleware CONF_FILE USER [SECTION]
function configure_keystone_authtoken_middleware {
    local conf=$1 user=$2 section=${3:-keystone_authtoken}
    iniset "$conf" "$section" auth_type password
    iniset "$conf" "$section" interface public
    iniset "$conf" "$section" auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$conf" "$section" www_authenticate_uri "$KEYSTONE_SERVICE_URI"
    iniset "$conf" "$section" username "$user"
    iniset "$conf" "$section" password "$SERVICE_PASSWORD"
    iniset "$conf" "$section" user_domain_name "$SERVICE_DOMAIN_NAME"
    iniset "$conf" "$section" project_name "$SERVICE_PROJECT_NAME"
    iniset "$conf" "$section" project_domain_name "$SERVICE_DOMAIN_NAME"
    iniset "$conf" "$section" region_name "$REGION_NAME"
}

# ------------------------------------------------------------- processes

# run_process NAME COMMAND: started in its own process group (devstack
# starts a systemd unit), output to SHIM_DIR/logs/NAME.log.
function run_process {
    local name=$1 command=$2
    is_service_enabled "$name" || return 0
    setsid bash -c "exec $command" >>"$SHIM_DIR/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$SHIM_DIR/pids/$name.pid"
}

# stop_process NAME: SIGTERM to its process group, SIGKILL after 15 s.
function stop_process {
    local name=$1 pid
    is_service_enabled "$name" || return 0
    [[ -f "$SHIM_DIR/pids/$name.pid" ]] || return 0
    pid=$(cat "$SHIM_DIR/pids/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && [[ $SECONDS -lt $deadline ]]; do
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$SHIM_DIR/pids/$name.pid"
}

# wait_for_service TIMEOUT URL: until URL answers 2xx, 3xx or 4xx.
function wait_for_service {
    local deadline=$((SECONDS + $1)) code
    while [[ $SECONDS -lt $deadline ]]; do
        code=$(curl -g -s --noproxy '*' -o /dev/null -w '%{http_code}' "$2" || true)
        [[ "$code" =~ ^[234] ]] && return 0
        sleep 0.5
    done
    return 1
}
