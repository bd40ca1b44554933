#!/bin/bash
# caas Docker Swarm-mode node bootstrap: installs and configures Docker
# Engine, then initialises the swarm (the first manager), joins it as a
# manager or as a worker, and signals Heat. Values between double
# underscores are filled by Heat. A manager's Docker API listens with
# mutual TLS (--tlsverify) on a server certificate it issues from the
# cluster CA; workers expose no Docker API and never see the CA key.
set -euo pipefail
exec >>/var/log/caas-bootstrap.log 2>&1

ROLE="__CAAS_ROLE__"
OS_DISTRO="__CAAS_OS_DISTRO__"
CLUSTER_UUID="__CAAS_CLUSTER_UUID__"
PRIVATE_IP="__CAAS_PRIVATE_IP__"
PUBLIC_IP="__CAAS_PUBLIC_IP__"
PRIMARY_IP="__CAAS_PRIMARY_IP__"
SWARM_JOIN="__CAAS_SWARM_JOIN__"
TOKENS_ENDPOINT="__CAAS_TOKENS_ENDPOINT__"
TOKENS_TOKEN="__CAAS_TOKENS_TOKEN__"
WAIT_ENDPOINT="__CAAS_WAIT_ENDPOINT__"
WAIT_TOKEN="__CAAS_WAIT_TOKEN__"
API_ADDRESSES="__CAAS_API_ADDRESSES__"
LB_ADDRESS="__CAAS_LB_ADDRESS__"
API_PORT="__CAAS_API_PORT__"
STORAGE_DRIVER="__CAAS_STORAGE_DRIVER__"
VOLUME_ID="__CAAS_VOLUME_ID__"
ENGINE_LABELS_B64="__CAAS_ENGINE_LABELS__"
HTTP_PROXY_URL="__CAAS_HTTP_PROXY__"
HTTPS_PROXY_URL="__CAAS_HTTPS_PROXY__"
NO_PROXY_LIST="__CAAS_NO_PROXY__"

# Written by the user data (cloud-init write_files or Ignition) on
# managers only.
CAAS_DIR=/etc/caas
TLS_DIR=/etc/docker/caas-tls
DROPIN_DIR=/etc/systemd/system/docker.service.d
SWARM_PORT=2377

log() {
    printf '%s caas-swarm[%s]: %s\n' "$(date -u +%FT%TZ)" "$CLUSTER_UUID" "$*"
}

# json_text TEXT: TEXT as the inside of a JSON string (one line).
json_text() {
    printf '%s' "$1" | tr -d '\000-\010\013-\037' | tr '\n\t' '  ' \
        | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# signal STATUS REASON DATA ENDPOINT TOKEN: a Heat wait condition signal.
# Retried for two minutes on any failure: a Heat API that is restarting (or
# a caas-all killed and started again) refuses the connection or resets it
# mid-request, and a signal lost then would leave the stack waiting until
# its timeout. Its id is fixed, so a retry of a signal Heat did record
# replaces it instead of adding a second one (each handle takes one).
signal() {
    if [ -z "$4" ]; then
        return 0
    fi
    curl -fsS --retry 24 --retry-delay 5 --retry-all-errors -X POST \
        -H "X-Auth-Token: $5" -H 'Content-Type: application/json' \
        -H 'Accept: application/json' \
        --data-binary "{\"id\": \"1\", \"status\": \"$1\", \"reason\": \"$(json_text "$2")\", \"data\": \"$(json_text "$3")\"}" \
        "$4" >/dev/null
}

on_exit() {
    local rc=$? reason
    if [ "$rc" -ne 0 ]; then
        # The node's own words: the last lines of its log say what failed.
        reason="caas bootstrap of $(uname -n) failed (exit $rc): $(tail -n 3 /var/log/caas-bootstrap.log | tr '\n' ' ')"
        # Fail the wait conditions now rather than when they time out.
        signal FAILURE "$reason" "" "$WAIT_ENDPOINT" "$WAIT_TOKEN" || true
        signal FAILURE "$reason" "" "$TOKENS_ENDPOINT" "$TOKENS_TOKEN" || true
    fi
}
trap on_exit EXIT

is_manager() {
    [ "$ROLE" = primary ] || [ "$ROLE" = manager ]
}

setup_proxy() {
    if [ -z "$HTTP_PROXY_URL$HTTPS_PROXY_URL" ]; then
        return 0
    fi
    export http_proxy="$HTTP_PROXY_URL" https_proxy="$HTTPS_PROXY_URL"
    export no_proxy="$NO_PROXY_LIST,127.0.0.1,localhost,$PRIVATE_IP,$PRIMARY_IP"
    mkdir -p "$DROPIN_DIR"
    printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s"\n' \
        "$http_proxy" "$https_proxy" "$no_proxy" > "$DROPIN_DIR/10-caas-proxy.conf"
}

# The Cinder volume (vm only) becomes /var/lib/docker.
setup_volume() {
    if [ -z "$VOLUME_ID" ]; then
        return 0
    fi
    local device="/dev/disk/by-id/virtio-${VOLUME_ID:0:20}" waited=0
    while [ ! -b "$device" ] && [ "$waited" -lt 300 ]; do
        sleep 2
        waited=$((waited + 2))
    done
    if [ ! -b "$device" ]; then
        device=/dev/vdb
    fi
    log "docker volume $VOLUME_ID is $device"
    if ! blkid "$device" >/dev/null 2>&1; then
        mkfs.ext4 -q -L caas-docker "$device"
    fi
    mkdir -p /var/lib/docker
    if ! grep -q ' /var/lib/docker ' /etc/fstab; then
        echo "LABEL=caas-docker /var/lib/docker ext4 defaults,nofail 0 2" >> /etc/fstab
    fi
    mount /var/lib/docker
}

install_docker() {
    case "$OS_DISTRO" in
        ubuntu|debian)
            # An image with Docker already in it (the simulated cloud's real
            # nodes have no network to a mirror) needs no package manager.
            if command -v dockerd >/dev/null && command -v curl >/dev/null \
                    && command -v openssl >/dev/null; then
                log "docker $(dockerd --version | cut -d' ' -f3 | tr -d ,) is installed"
                return 0
            fi
            export DEBIAN_FRONTEND=noninteractive
            apt-get update
            apt-get install -y docker.io curl openssl
            ;;
        fedora-coreos)
            # Fedora CoreOS ships Docker Engine (moby-engine) in the image.
            if ! command -v dockerd >/dev/null; then
                rpm-ostree install --apply-live --allow-inactive moby-engine
            fi
            ;;
        *)
            log "unknown OS $OS_DISTRO"
            return 1
            ;;
    esac
}

# A manager's TLS server certificate, from the cluster CA, naming every
# address a client may use: its own, its floating IP and the load
# balancer's. The CA key file is removed once the certificate exists.
issue_server_cert() {
    local ca_key="$CAAS_DIR/ca-key.pem" name sans address
    name="$(uname -n)"
    install -d -m 0700 "$TLS_DIR"
    install -m 0644 "$CAAS_DIR/ca.pem" "$TLS_DIR/ca.pem"
    sans="IP:127.0.0.1,IP:$PRIVATE_IP,DNS:localhost,DNS:$name"
    if [ -n "$PUBLIC_IP" ]; then
        sans="$sans,IP:$PUBLIC_IP"
    fi
    for address in ${API_ADDRESSES//,/ }; do
        sans="$sans,IP:$address"
    done
    (
        umask 077
        openssl ecparam -name prime256v1 -genkey -noout -out "$TLS_DIR/server-key.pem"
        openssl req -new -key "$TLS_DIR/server-key.pem" \
            -subj "/O=caas/OU=$CLUSTER_UUID/CN=$name" -out "$TLS_DIR/server.csr"
        cat > "$TLS_DIR/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$sans
EXT
        openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" \
            -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 16)" \
            -days 825 -sha256 -extfile "$TLS_DIR/server.ext" \
            -out "$TLS_DIR/server-cert.pem"
    )
    rm -f "$ca_key" "$TLS_DIR/server.csr"
    log "issued the Docker API server certificate for $sans"
}

configure_docker() {
    local labels='[]' tls=''
    if [ -n "$ENGINE_LABELS_B64" ]; then
        labels="$(printf '%s' "$ENGINE_LABELS_B64" | base64 -d)"
    fi
    mkdir -p /etc/docker "$DROPIN_DIR"
    if is_manager; then
        tls="$(printf '"tlsverify": true, "tlscacert": "%s", "tlscert": "%s", "tlskey": "%s", "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:%s"],' \
            "$TLS_DIR/ca.pem" "$TLS_DIR/server-cert.pem" "$TLS_DIR/server-key.pem" "$API_PORT")"
        # The listeners come from daemon.json: the packaged unit's -H
        # fd:// would conflict with them.
        local flags='--containerd=/run/containerd/containerd.sock'
        if [ "$OS_DISTRO" = fedora-coreos ]; then
            flags='--exec-opt native.cgroupdriver=systemd'
        fi
        # Debian has dockerd in /usr/sbin, Ubuntu in /usr/bin.
        printf '[Service]\nExecStart=\nExecStart=%s %s\n' \
            "$(command -v dockerd)" "$flags" > "$DROPIN_DIR/20-caas-listen.conf"
    fi
    printf '{%s "storage-driver": "%s", "labels": %s, "log-driver": "json-file", "log-opts": {"max-size": "50m", "max-file": "3"}}\n' \
        "$tls" "$STORAGE_DRIVER" "$labels" > /etc/docker/daemon.json
    # Containers must not read the metadata service: a manager's user data
    # holds the cluster CA key.
    printf '[Service]\nExecStartPost=-/bin/sh -c "iptables -C DOCKER-USER -d 169.254.169.254/32 -j DROP || iptables -I DOCKER-USER -d 169.254.169.254/32 -j DROP"\n' \
        > "$DROPIN_DIR/30-caas-metadata.conf"
    systemctl daemon-reload
    systemctl enable docker.service
    systemctl restart docker.service
    local waited=0
    until docker info >/dev/null 2>&1; do
        if [ "$waited" -ge 120 ]; then
            log "docker did not start"
            return 1
        fi
        sleep 2
        waited=$((waited + 2))
    done
}

in_swarm() {
    [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]
}

# join_token worker|manager: from the tokens the first manager signalled.
join_token() {
    printf '%s\n' "$SWARM_JOIN" | tr ';' '\n' \
        | grep -o "$1=SWMTKN-[A-Za-z0-9-]*" | head -n 1 | cut -d= -f2
}

join_swarm() {
    local token attempt
    token="$(join_token "$1")"
    if [ -z "$token" ]; then
        log "no $1 join token in the data Heat passed"
        return 1
    fi
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if docker swarm join --token "$token" --advertise-addr "$PRIVATE_IP" \
                "$PRIMARY_IP:$SWARM_PORT"; then
            return 0
        fi
        log "join attempt $attempt failed; retrying"
        sleep 10
    done
    return 1
}

# A first manager that replaces an earlier one (an upgrade) joins the
# swarm the other managers still run, through the load balancer, instead
# of starting a new one.
join_existing_swarm() {
    if [ -z "$LB_ADDRESS" ]; then
        return 1
    fi
    local remote=(--tlsverify --tlscacert "$TLS_DIR/ca.pem"
                  --tlscert "$TLS_DIR/server-cert.pem"
                  --tlskey "$TLS_DIR/server-key.pem"
                  -H "tcp://$LB_ADDRESS:$API_PORT")
    local token managers manager attempt
    for attempt in 1 2 3; do
        if token="$(timeout 20 docker "${remote[@]}" swarm join-token -q manager)"; then
            managers="$(timeout 20 docker "${remote[@]}" info \
                --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')"
            for manager in $managers; do
                if docker swarm join --token "$token" \
                        --advertise-addr "$PRIVATE_IP" "$manager"; then
                    return 0
                fi
            done
        fi
        log "no swarm behind $LB_ADDRESS yet (attempt $attempt)"
        sleep 5
    done
    return 1
}

# A replaced server (an upgrade, auto-healing) comes back under the same
# name and leaves its old node Down in the swarm: managers forget such
# nodes, now and every minute, so the node list matches the servers.
install_node_pruner() {
    cat > /usr/local/bin/caas-swarm-prune <<'PRUNE'
#!/bin/bash
set -euo pipefail
nodes="$(docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}')"
ready="$(printf '%s\n' "$nodes" | awk '$3 == "Ready" {print $2}')"
printf '%s\n' "$nodes" | while read -r id host status; do
    if [ "$status" = Down ] && printf '%s\n' "$ready" | grep -qxF "$host"; then
        docker node demote "$id" >/dev/null 2>&1 || true
        docker node rm --force "$id" || true
    fi
done
PRUNE
    chmod 0755 /usr/local/bin/caas-swarm-prune
    cat > /etc/systemd/system/caas-swarm-prune.service <<'UNIT'
[Unit]
Description=caas: forget swarm nodes replaced under the same name
After=docker.service

[Service]
Type=oneshot
ExecStart=/usr/local/bin/caas-swarm-prune
UNIT
    cat > /etc/systemd/system/caas-swarm-prune.timer <<'UNIT'
[Unit]
Description=caas: forget replaced swarm nodes every minute

[Timer]
OnBootSec=2min
OnUnitActiveSec=1min

[Install]
WantedBy=timers.target
UNIT
    systemctl daemon-reload
    systemctl enable --now caas-swarm-prune.timer
    /usr/local/bin/caas-swarm-prune
}

main() {
    log "bootstrapping a $ROLE on $OS_DISTRO ($PRIVATE_IP)"
    setup_proxy
    setup_volume
    install_docker
    if is_manager; then
        issue_server_cert
    fi
    configure_docker
    if ! in_swarm; then
        case "$ROLE" in
            primary)
                if ! join_existing_swarm; then
                    docker swarm init --advertise-addr "$PRIVATE_IP" \
                        --listen-addr "$PRIVATE_IP:$SWARM_PORT"
                fi
                ;;
            manager) join_swarm manager ;;
            worker) join_swarm worker ;;
        esac
    fi
    if is_manager; then
        install_node_pruner
    fi
    if [ "$ROLE" = primary ]; then
        signal SUCCESS "the swarm runs" \
            "worker=$(docker swarm join-token -q worker);manager=$(docker swarm join-token -q manager)" \
            "$TOKENS_ENDPOINT" "$TOKENS_TOKEN"
    fi
    local version
    version="$(docker version --format '{{.Server.Version}}')"
    signal SUCCESS "docker $version is in the swarm" "$version" \
        "$WAIT_ENDPOINT" "$WAIT_TOKEN"
    log "done"
}

main
