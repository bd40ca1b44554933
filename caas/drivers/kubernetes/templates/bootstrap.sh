#!/bin/bash
# caas node bootstrap: containerd and kubeadm, then the control plane's
# `kubeadm init` with the cluster's own CAs (master 0), a control-plane join
# (other masters) or a worker join checked against the CA's hash; at last the
# node signals its Heat wait condition, so that CREATE_COMPLETE means joined.
# Values between double underscores are filled by Heat (str_replace).
set -Eeuo pipefail
exec > >(tee -a /var/log/caas-bootstrap.log) 2>&1

ROLE="__CAAS_ROLE__"
NODE_INDEX="__CAAS_NODE_INDEX__"
OS_DISTRO="__CAAS_OS_DISTRO__"
SERVER_TYPE="__CAAS_SERVER_TYPE__"
KUBE_TAG="__CAAS_KUBE_TAG__"
CONTAINERD_TAG="__CAAS_CONTAINERD_TAG__"
API_IP="__CAAS_API_IP__"
API_PORT="__CAAS_API_PORT__"
API_PUBLIC_IP="__CAAS_API_PUBLIC_IP__"
API_VIP="__CAAS_API_VIP__"
BOOTSTRAP_TOKEN="__CAAS_BOOTSTRAP_TOKEN__"
CA_CERT_HASH="__CAAS_CA_CERT_HASH__"
PODS_CIDR="__CAAS_PODS_CIDR__"
SERVICES_CIDR="__CAAS_SERVICES_CIDR__"
DNS_DOMAIN="__CAAS_DNS_DOMAIN__"
NETWORK_DRIVER="__CAAS_NETWORK_DRIVER__"
CALICO_TAG="__CAAS_CALICO_TAG__"
FLANNEL_TAG="__CAAS_FLANNEL_TAG__"
CLOUD_PROVIDER_ENABLED="__CAAS_CLOUD_PROVIDER_ENABLED__"
CLOUD_PROVIDER_TAG="__CAAS_CLOUD_PROVIDER_TAG__"
CINDER_CSI_ENABLED="__CAAS_CINDER_CSI_ENABLED__"
CINDER_CSI_TAG="__CAAS_CINDER_CSI_TAG__"
DOCKER_VOLUME="__CAAS_DOCKER_VOLUME__"
ETCD_VOLUME="__CAAS_ETCD_VOLUME__"
CLUSTER_UUID="__CAAS_CLUSTER_UUID__"
HTTP_PROXY_URL="__CAAS_HTTP_PROXY__"
HTTPS_PROXY_URL="__CAAS_HTTPS_PROXY__"
NO_PROXY_LIST="__CAAS_NO_PROXY__"
NODE_REGISTRATION="__CAAS_NODE_REGISTRATION__"
WC_ENDPOINT="__CAAS_WC_ENDPOINT__"
WC_TOKEN="__CAAS_WC_TOKEN__"

KUBE_MINOR="${KUBE_TAG#v}"
KUBE_MINOR="v${KUBE_MINOR%.*}"
KUBE_VIP_TAG="v0.8.0"
RUNC_TAG="v1.1.13"
PKI=/etc/kubernetes/pki
CPO_URL="https://raw.githubusercontent.com/kubernetes/cloud-provider-openstack/${CLOUD_PROVIDER_TAG}/manifests"
CSI_URL="https://raw.githubusercontent.com/kubernetes/cloud-provider-openstack/${CINDER_CSI_TAG}/manifests/cinder-csi-plugin"

# The node's verdict for its Heat wait condition (SUCCESS or FAILURE),
# retried for two minutes on any failure: a restarting Heat API refuses
# the connection or resets it mid-request, and a lost signal would leave
# the stack waiting (its id makes a repeated signal replace the first).
signal() {
    local status="$1" reason="$2"
    curl -fsS --retry 24 --retry-delay 5 --retry-all-errors -X POST \
        -H "X-Auth-Token: ${WC_TOKEN}" \
        -H 'Content-Type: application/json' -H 'Accept: application/json' \
        --data-binary "{\"status\": \"${status}\", \"reason\": \"${reason}\", \"id\": \"${ROLE}-${NODE_INDEX}\"}" \
        "${WC_ENDPOINT}"
}

# A failed step fails the stack at once instead of at the timeout.
# The reason names the command that failed: the node's own words.
trap 'signal FAILURE "bootstrap of ${ROLE} ${NODE_INDEX} failed at line ${LINENO}: $(printf %s "${BASH_COMMAND}" | tr -d "\"\\\\" | head -c 200)"' ERR

retry() {
    local n=0
    until "$@"; do
        n=$((n + 1))
        [ "$n" -ge 60 ] && return 1
        sleep 10
    done
}

if [ -n "$HTTP_PROXY_URL$HTTPS_PROXY_URL" ]; then
    export http_proxy="$HTTP_PROXY_URL" https_proxy="$HTTPS_PROXY_URL"
    export no_proxy="$NO_PROXY_LIST,$API_IP,$SERVICES_CIDR,$PODS_CIDR"
    mkdir -p /etc/systemd/system/containerd.service.d
    printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s"\n' \
        "$http_proxy" "$https_proxy" "$no_proxy" \
        > /etc/systemd/system/containerd.service.d/proxy.conf
fi

# A Cinder volume shows up under its ID's first 20 characters (the virtio
# serial); it is formatted once and mounted where its data lives.
mount_volume() {
    local volume="$1" target="$2" device
    [ -n "$volume" ] || return 0
    device="/dev/disk/by-id/virtio-${volume:0:20}"
    retry test -e "$device"
    if ! blkid "$device" >/dev/null 2>&1; then
        mkfs.ext4 -q "$device"
    fi
    mkdir -p "$target"
    echo "$device $target ext4 defaults 0 2" >> /etc/fstab
    mount "$target"
}

if [ "$SERVER_TYPE" = vm ]; then
    mount_volume "$DOCKER_VOLUME" /var/lib/containerd
    if [ "$ROLE" = master ]; then
        mount_volume "$ETCD_VOLUME" /var/lib/etcd
    fi
fi

modprobe overlay
modprobe br_netfilter
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/caas-k8s.conf
cat > /etc/sysctl.d/90-caas-k8s.conf <<SYSCTL
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
sysctl --system
swapoff -a

case "$(uname -m)" in
    aarch64) ARCH=arm64 ;;
    *) ARCH=amd64 ;;
esac

# containerd from its release, the same version on every OS (the cluster's
# container_version), with runc and the upstream systemd unit.
install_containerd() {
    local url="https://github.com/containerd/containerd/releases/download"
    curl -fsSL -o /tmp/containerd.tar.gz \
        "${url}/v${CONTAINERD_TAG}/containerd-${CONTAINERD_TAG}-linux-${ARCH}.tar.gz"
    tar -C /usr/local -xzf /tmp/containerd.tar.gz
    curl -fsSL -o /tmp/runc \
        "https://github.com/opencontainers/runc/releases/download/${RUNC_TAG}/runc.${ARCH}"
    install -m 0755 /tmp/runc /usr/local/sbin/runc
    curl -fsSL -o /etc/systemd/system/containerd.service \
        "https://raw.githubusercontent.com/containerd/containerd/v${CONTAINERD_TAG}/containerd.service"
    mkdir -p /etc/containerd
    /usr/local/bin/containerd config default \
        | sed 's/SystemdCgroup = false/SystemdCgroup = true/' \
        > /etc/containerd/config.toml
}

install_ubuntu() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y apt-transport-https ca-certificates curl gpg
    mkdir -p /etc/apt/keyrings
    curl -fsSL "https://pkgs.k8s.io/core:/stable:/${KUBE_MINOR}/deb/Release.key" \
        | gpg --dearmor -o /etc/apt/keyrings/kubernetes.gpg
    echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/${KUBE_MINOR}/deb/ /" \
        > /etc/apt/sources.list.d/kubernetes.list
    apt-get update
    local version="${KUBE_TAG#v}"
    apt-get install -y "kubelet=${version}-*" "kubeadm=${version}-*" "kubectl=${version}-*"
    apt-mark hold kubelet kubeadm kubectl
}

install_fedora_coreos() {
    cat > /etc/yum.repos.d/kubernetes.repo <<REPO
[kubernetes]
name=Kubernetes
baseurl=https://pkgs.k8s.io/core:/stable:/${KUBE_MINOR}/rpm/
enabled=1
gpgcheck=1
gpgkey=https://pkgs.k8s.io/core:/stable:/${KUBE_MINOR}/rpm/repodata/repomd.xml.key
REPO
    local version="${KUBE_TAG#v}"
    # The layered packages are only active after a reboot; apply them live.
    rpm-ostree install --apply-live --allow-inactive \
        "kubelet-${version}" "kubeadm-${version}" "kubectl-${version}" cri-tools
}

case "$OS_DISTRO" in
    ubuntu|debian) install_ubuntu ;;
    fedora-coreos) install_fedora_coreos ;;
    *) echo "unsupported os_distro $OS_DISTRO" >&2; exit 1 ;;
esac
install_containerd
systemctl daemon-reload
systemctl enable --now containerd kubelet

kube_vip_manifest() {
    local iface
    iface=$(ip -o route get "$API_IP" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
    mkdir -p /etc/kubernetes/manifests
    ctr image pull "ghcr.io/kube-vip/kube-vip:${KUBE_VIP_TAG}"
    ctr run --rm --net-host "ghcr.io/kube-vip/kube-vip:${KUBE_VIP_TAG}" vip \
        /kube-vip manifest pod --interface "$iface" --address "$API_IP" \
        --controlplane --arp --leaderElection \
        > /etc/kubernetes/manifests/kube-vip.yaml
}

# >>> join-config
# The kubelet's registration: the nodegroup's node labels and taints come
# from the driver as base64 of JSON (which is YAML), plus the external cloud
# provider when the cluster runs one.
registration() {
    local json
    json=$(printf '%s' "$NODE_REGISTRATION" | base64 -d)
    if [ "$CLOUD_PROVIDER_ENABLED" = true ]; then
        json=$(printf '%s' "$json" | python3 -c 'import json, sys
r = json.load(sys.stdin)
r.setdefault("kubeletExtraArgs", {})["cloud-provider"] = "external"
print(json.dumps(r, sort_keys=True))')
    fi
    printf '%s' "$json"
}

# Workers check the API they discover against the cluster CA's hash; only
# a cluster created before caas handed the hash skips that check.
discovery() {
    if [ -n "$CA_CERT_HASH" ]; then
        printf '    caCertHashes: ["%s"]\n' "$CA_CERT_HASH"
    else
        printf '    unsafeSkipCAVerification: true\n'
    fi
}

join_config() {
    cat <<JOINCONFIG
apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${API_IP}:${API_PORT}"
    token: "${BOOTSTRAP_TOKEN}"
$(discovery)
nodeRegistration: $(registration)
JOINCONFIG
    if [ "$ROLE" = master ]; then
        cat <<CONTROLPLANE
controlPlane:
  localAPIEndpoint:
    bindPort: ${API_PORT}
CONTROLPLANE
    fi
}

init_config() {
    local sans="\"$API_IP\""
    [ -n "$API_PUBLIC_IP" ] && sans="$sans, \"$API_PUBLIC_IP\""
    cat <<INITCONFIG
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
bootstrapTokens:
  - token: "${BOOTSTRAP_TOKEN}"
    ttl: "0s"
localAPIEndpoint:
  bindPort: ${API_PORT}
nodeRegistration: $(registration)
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: "${KUBE_TAG}"
controlPlaneEndpoint: "${API_IP}:${API_PORT}"
apiServer:
  certSANs: [${sans}]
networking:
  podSubnet: "${PODS_CIDR}"
  serviceSubnet: "${SERVICES_CIDR}"
  dnsDomain: "${DNS_DOMAIN}"
INITCONFIG
}
# <<< join-config

# The CNI, with the cluster's pod network.
apply_cni() {
    local manifest=/etc/kubernetes/caas-cni.yaml
    case "$NETWORK_DRIVER" in
        calico)
            curl -fsSL -o "$manifest" \
                "https://raw.githubusercontent.com/projectcalico/calico/${CALICO_TAG}/manifests/calico.yaml"
            sed -i -e 's|# - name: CALICO_IPV4POOL_CIDR|- name: CALICO_IPV4POOL_CIDR|' \
                -e "s|#   value: \"192.168.0.0/16\"|  value: \"${PODS_CIDR}\"|" "$manifest"
            ;;
        *)
            curl -fsSL -o "$manifest" \
                "https://github.com/flannel-io/flannel/releases/download/${FLANNEL_TAG}/kube-flannel.yml"
            sed -i "s|10.244.0.0/16|${PODS_CIDR}|" "$manifest"
            ;;
    esac
    kubectl apply -f "$manifest"
}

# The cloud provider's configuration (/etc/kubernetes/cloud-config, 0600,
# from the master's user data) as the kube-system/cloud-config Secret that
# cloud-provider-openstack and the Cinder CSI plugins mount. Every master
# applies it at its bootstrap, so the first master created after a
# credential rotation hands the new credential to the cluster.
apply_cloud_secret() {
    kubectl -n kube-system create secret generic cloud-config \
        --from-file=cloud.conf=/etc/kubernetes/cloud-config \
        --dry-run=client -o yaml | kubectl apply -f -
}

# cloud-provider-openstack (Services of type LoadBalancer through Octavia)
# and the Cinder CSI, once, by the master that made the cluster.
apply_cloud_provider() {
    if [ "$CLOUD_PROVIDER_ENABLED" = true ]; then
        local m
        for m in cloud-controller-manager-roles.yaml \
                 cloud-controller-manager-role-bindings.yaml \
                 openstack-cloud-controller-manager-ds.yaml; do
            kubectl apply -f "${CPO_URL}/controller-manager/${m}"
        done
    fi
    if [ "$CINDER_CSI_ENABLED" = true ]; then
        local m
        for m in cinder-csi-controllerplugin-rbac.yaml \
                 cinder-csi-controllerplugin.yaml \
                 cinder-csi-nodeplugin-rbac.yaml \
                 cinder-csi-nodeplugin.yaml csi-cinder-driver.yaml; do
            kubectl apply -f "${CSI_URL}/${m}"
        done
    fi
}

# The workers' bootstrap token never expires (ttl 0s at init); every master
# makes it again if it is gone, so a worker can join at any time.
ensure_token() {
    if ! kubeadm token list | awk '{print $1}' | grep -qxF "$BOOTSTRAP_TOKEN"; then
        kubeadm token create "$BOOTSTRAP_TOKEN" --ttl 0
    fi
}

# True when the cluster's API answers with the cluster's CA: the control
# plane exists, so master 0 (a replacement: auto-heal, upgrade) joins it
# instead of making a new cluster.
api_answers() {
    [ -s "$PKI/ca.crt" ] || return 1
    local n
    for n in 1 2 3; do
        if curl -fsS --max-time 5 --cacert "$PKI/ca.crt" \
                "https://${API_IP}:${API_PORT}/healthz" >/dev/null; then
            return 0
        fi
        sleep "$n"
    done
    return 1
}

# The control plane's shared files written by the user data (cluster CA,
# etcd CA, front-proxy CA, service-account key pair): with all of them a
# master joins at any time, no certificate upload needed. An empty one (a
# stack without them) is removed so kubeadm makes its own (master 0 only).
prepare_pki() {
    local f
    for f in ca.crt ca.key etcd/ca.crt etcd/ca.key front-proxy-ca.crt \
             front-proxy-ca.key sa.key sa.pub; do
        if [ -e "$PKI/$f" ] && [ ! -s "$PKI/$f" ]; then
            rm -f "$PKI/$f"
        fi
    done
    if [ -e "$PKI/ca.key" ]; then
        chmod 600 "$PKI"/*.key "$PKI"/etcd/*.key 2>/dev/null || true
    else
        echo "no cluster CA in the user data: kubeadm makes its own" >&2
    fi
}

CLOUD_CREDENTIAL=false
if [ "$CLOUD_PROVIDER_ENABLED" = true ] || [ "$CINDER_CSI_ENABLED" = true ]; then
    CLOUD_CREDENTIAL=true
fi

# >>> master-bootstrap
# A master: master 0 makes the cluster unless its API already answers (a
# replaced master 0 joins, as the others do); every join uses the shared
# files of the user data, so it works at any time.
bootstrap_master() {
    prepare_pki
    if [ "$API_VIP" = true ]; then
        kube_vip_manifest
    fi
    if [ "$NODE_INDEX" = 0 ] && ! api_answers; then
        init_config > /etc/kubernetes/caas-init.yaml
        kubeadm init --config /etc/kubernetes/caas-init.yaml
        export KUBECONFIG=/etc/kubernetes/admin.conf
        apply_cni
        kubectl label node "$(hostname)" "caas.openstack.org/cluster=$CLUSTER_UUID" --overwrite
        if [ "$CLOUD_CREDENTIAL" = true ]; then
            apply_cloud_provider
        fi
    else
        join_config > /etc/kubernetes/caas-join.yaml
        retry kubeadm join --config /etc/kubernetes/caas-join.yaml
        export KUBECONFIG=/etc/kubernetes/admin.conf
    fi
    ensure_token
    if [ "$CLOUD_CREDENTIAL" = true ]; then
        apply_cloud_secret
    fi
}
# <<< master-bootstrap

mkdir -p /etc/kubernetes
if [ "$ROLE" = master ]; then
    bootstrap_master
else
    join_config > /etc/kubernetes/caas-join.yaml
    retry kubeadm join --config /etc/kubernetes/caas-join.yaml
fi

retry curl -fsS http://127.0.0.1:10248/healthz
signal SUCCESS "kubelet of ${ROLE} ${NODE_INDEX} is up"
echo "caas bootstrap of $ROLE $NODE_INDEX for cluster $CLUSTER_UUID done"
