#!/bin/bash
# caas node bootstrap: installs a container runtime and kubeadm, then
# initialises the control plane (master 0), joins it (other masters) or
# joins as a worker.  Values between double underscores are filled by Heat.
set -euo pipefail
exec > >(tee -a /var/log/caas-bootstrap.log) 2>&1

ROLE="__CAAS_ROLE__"
NODE_INDEX="__CAAS_NODE_INDEX__"
OS_DISTRO="__CAAS_OS_DISTRO__"
KUBE_TAG="__CAAS_KUBE_TAG__"
API_IP="__CAAS_API_IP__"
API_PORT="__CAAS_API_PORT__"
API_PUBLIC_IP="__CAAS_API_PUBLIC_IP__"
BOOTSTRAP_TOKEN="__CAAS_BOOTSTRAP_TOKEN__"
CERTIFICATE_KEY="__CAAS_CERTIFICATE_KEY__"
PODS_CIDR="__CAAS_PODS_CIDR__"
SERVICES_CIDR="__CAAS_SERVICES_CIDR__"
DNS_DOMAIN="__CAAS_DNS_DOMAIN__"
NETWORK_DRIVER="__CAAS_NETWORK_DRIVER__"
CLUSTER_UUID="__CAAS_CLUSTER_UUID__"
HTTP_PROXY_URL="__CAAS_HTTP_PROXY__"
HTTPS_PROXY_URL="__CAAS_HTTPS_PROXY__"
NO_PROXY_LIST="__CAAS_NO_PROXY__"
NODE_REGISTRATION="__CAAS_NODE_REGISTRATION__"

KUBE_MINOR="${KUBE_TAG#v}"
KUBE_MINOR="v${KUBE_MINOR%.*}"
KUBE_VIP_TAG="v0.8.0"

if [ -n "$HTTP_PROXY_URL$HTTPS_PROXY_URL" ]; then
    export http_proxy="$HTTP_PROXY_URL" https_proxy="$HTTPS_PROXY_URL"
    export no_proxy="$NO_PROXY_LIST,$API_IP,$SERVICES_CIDR,$PODS_CIDR"
    mkdir -p /etc/systemd/system/containerd.service.d
    printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s"\n' \
        "$http_proxy" "$https_proxy" "$no_proxy" \
        > /etc/systemd/system/containerd.service.d/proxy.conf
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

install_ubuntu() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y apt-transport-https ca-certificates curl gpg containerd
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
    ubuntu) install_ubuntu ;;
    fedora-coreos) install_fedora_coreos ;;
    *) echo "unsupported os_distro $OS_DISTRO" >&2; exit 1 ;;
esac

mkdir -p /etc/containerd
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' \
    > /etc/containerd/config.toml
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

retry() {
    local n=0
    until "$@"; do
        n=$((n + 1))
        [ "$n" -ge 60 ] && return 1
        sleep 10
    done
}

# >>> join-config
# A worker's kubeadm JoinConfiguration. Its nodeRegistration (the node
# labels and taints of the worker's nodegroup, kubelet registration
# arguments) comes from the driver as base64 of JSON, which is YAML.
join_config() {
    local registration
    registration=$(printf '%s' "$NODE_REGISTRATION" | base64 -d)
    cat <<JOINCONFIG
apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${API_IP}:${API_PORT}"
    token: "${BOOTSTRAP_TOKEN}"
    unsafeSkipCAVerification: true
nodeRegistration: ${registration}
JOINCONFIG
}
# <<< join-config

SANS="$API_IP"
[ -n "$API_PUBLIC_IP" ] && SANS="$SANS,$API_PUBLIC_IP"

if [ "$ROLE" = master ] && [ "$NODE_INDEX" = 0 ]; then
    kube_vip_manifest
    kubeadm init --kubernetes-version "$KUBE_TAG" \
        --control-plane-endpoint "$API_IP:$API_PORT" \
        --apiserver-bind-port "$API_PORT" \
        --apiserver-cert-extra-sans "$SANS" \
        --pod-network-cidr "$PODS_CIDR" --service-cidr "$SERVICES_CIDR" \
        --service-dns-domain "$DNS_DOMAIN" \
        --token "$BOOTSTRAP_TOKEN" --token-ttl 0 \
        --upload-certs --certificate-key "$CERTIFICATE_KEY"
    export KUBECONFIG=/etc/kubernetes/admin.conf
    case "$NETWORK_DRIVER" in
        calico) kubectl apply -f https://raw.githubusercontent.com/projectcalico/calico/v3.27.3/manifests/calico.yaml ;;
        *) kubectl apply -f https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml ;;
    esac
    kubectl label node "$(hostname)" "caas.openstack.org/cluster=$CLUSTER_UUID" --overwrite
elif [ "$ROLE" = master ]; then
    kube_vip_manifest
    retry kubeadm join "$API_IP:$API_PORT" --token "$BOOTSTRAP_TOKEN" \
        --discovery-token-unsafe-skip-ca-verification \
        --control-plane --certificate-key "$CERTIFICATE_KEY" \
        --apiserver-bind-port "$API_PORT"
else
    join_config > /etc/kubernetes/caas-join.yaml
    retry kubeadm join --config /etc/kubernetes/caas-join.yaml
fi
echo "caas bootstrap of $ROLE $NODE_INDEX for cluster $CLUSTER_UUID done"
