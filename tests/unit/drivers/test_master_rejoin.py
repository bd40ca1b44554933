"""A master replaced long after the create (auto-heal, upgrade, resize)
joins the control plane: its user data pre-places every file the control
plane's members share, so ``kubeadm join --control-plane`` needs no
certificate key (kubeadm's upload lasts two hours), and a replaced master 0
joins instead of making a second cluster. The rendered script's own
functions run in bash, with kubeadm, kubectl and curl stubbed."""

import os
import subprocess

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from caas.drivers import heat
from caas.drivers.kubernetes import driver as k8s
from caas.drivers.kubernetes import template as k8s_template

from . import test_kubernetes_userdata as userdata_test
from .test_credential_parameters import CREDENTIAL

cas = userdata_test.cas
SHARED = ('ca.crt', 'ca.key', 'etcd/ca.crt', 'etcd/ca.key',
          'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub')
TOKEN = 'abcdef.0123456789abcdef'

STUBS = r'''
kubeadm() {
    echo "kubeadm $*" >> "$LOG"
    if [ "$1 $2" = "token list" ]; then printf '%s\n' $TOKENS; fi
}
kubectl() { echo "kubectl $*" >> "$LOG"; }
curl() { echo "curl $*" >> "$LOG"; [ "$API_UP" = 1 ]; }
sleep() { :; }
retry() { "$@"; }
hostname() { echo master-0; }
kube_vip_manifest() { echo "kube-vip" >> "$LOG"; }
apply_cni() { echo "cni" >> "$LOG"; }
'''


def run_master(driver_cls, cas, tmp_path, node_index, api_up,
               tokens=''):
    """Place the master's user-data files under ``tmp_path`` and run its
    bootstrap_master; what it called and wrote."""
    text = userdata_test.rendered(driver_cls, 'master', cas)
    root = tmp_path / 'etc-kubernetes'
    for path, (mode, content) in heat.files_of(text).items():
        if path.startswith('/etc/kubernetes/'):
            target = root / path[len('/etc/kubernetes/'):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            os.chmod(target, mode)
    script = k8s_template.script_of(text)
    settings = '\n'.join(
        line for line in script.splitlines()
        if line.split('=', 1)[0].isupper() and '="' in line
        and not line.startswith('NODE_INDEX='))
    body = script[script.index('# >>> join-config'):
                  script.index('# <<< master-bootstrap')]
    body = body.replace('/etc/kubernetes', str(root))
    log = tmp_path / 'calls'
    program = '\n'.join([
        'set -euo pipefail', settings, 'NODE_INDEX=%d' % node_index,
        'PKI=%s/pki' % root, 'LOG=%s' % log, 'API_UP=%d' % api_up,
        'TOKENS="%s"' % tokens, body, STUBS, 'bootstrap_master'])
    out = subprocess.run(['bash', '-c', program], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return root, log.read_text().splitlines()


@pytest.mark.parametrize('driver_cls', [k8s.UbuntuKubernetesDriver,
                                        k8s.FedoraCoreOSKubernetesDriver])
def test_a_replaced_master_0_joins_with_the_pre_placed_files(
        driver_cls, cas, tmp_path):
    root, calls = run_master(driver_cls, cas, tmp_path, 0, api_up=True)
    assert not [c for c in calls if c.startswith('kubeadm init')]
    assert 'kubeadm join --config %s/caas-join.yaml' % root in calls
    join = yaml.safe_load((root / 'caas-join.yaml').read_text())
    assert join['controlPlane'] == {'localAPIEndpoint': {'bindPort': 6443}}
    assert join['discovery']['bootstrapToken']['token'] == TOKEN
    # Every file kubeadm needs for a control-plane join without an upload.
    for name in SHARED:
        assert (root / 'pki' / name).stat().st_size > 0, name
    for name in ('ca.key', 'etcd/ca.key', 'front-proxy-ca.key', 'sa.key'):
        assert (root / 'pki' / name).stat().st_mode & 0o077 == 0, name
    key = serialization.load_pem_private_key(
        (root / 'pki' / 'sa.key').read_bytes(), None)
    pub = serialization.load_pem_public_key(
        (root / 'pki' / 'sa.pub').read_bytes())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == pub.public_numbers()
    # The token is made again when it is gone; the cloud-config Secret
    # is re-applied from the master's own file (0600, the credential).
    assert 'kubeadm token create %s --ttl 0' % TOKEN in calls
    secret = [c for c in calls if 'create secret generic cloud-config' in c]
    assert secret and ('cloud.conf=%s/cloud-config' % root) in secret[0]
    config = root / 'cloud-config'
    assert config.stat().st_mode & 0o777 == 0o600
    assert 'password=%s' % CREDENTIAL['password'] in config.read_text()


def test_the_first_master_makes_the_cluster_with_nothing_uploaded(
        cas, tmp_path):
    root, calls = run_master(k8s.UbuntuKubernetesDriver, cas, tmp_path, 0,
                             api_up=False, tokens=TOKEN)
    inits = [c for c in calls if c.startswith('kubeadm init')]
    assert inits == ['kubeadm init --config %s/caas-init.yaml' % root]
    init, _cluster = yaml.safe_load_all(
        (root / 'caas-init.yaml').read_text())
    assert 'certificateKey' not in init
    assert init['bootstrapTokens'] == [{'token': TOKEN, 'ttl': '0s'}]
    assert not [c for c in calls if c.startswith('kubeadm join')]
    # The token is there: not made twice.
    assert not [c for c in calls if c.startswith('kubeadm token create')]


def test_another_master_never_makes_a_cluster(cas, tmp_path):
    _root, calls = run_master(k8s.UbuntuKubernetesDriver, cas, tmp_path, 2,
                              api_up=False)
    assert not [c for c in calls if c.startswith('kubeadm init')]
    assert [c for c in calls if c.startswith('kubeadm join')]


def test_the_service_account_key_is_stable_and_per_cluster(cas):
    driver = k8s.UbuntuKubernetesDriver()
    given = {t: (cert, key.decode() if isinstance(key, bytes) else key)
             for t, (cert, key) in cas.items()}
    first = driver.ca_key_parameters(given)
    assert driver.ca_key_parameters(given) == first
    other = userdata_test.authority.make_ca(
        '11111111-2222-4333-8444-555555555555', 'kubernetes')
    theirs = driver.ca_key_parameters(dict(given, kubernetes=(
        other[0], other[1].decode() if isinstance(other[1], bytes)
        else other[1])))
    assert theirs['sa_key'] != first['sa_key']
    assert theirs['sa_pub'] != first['sa_pub']


def test_the_service_account_key_is_given_at_create_only():
    """Stable across stack updates: no update, upgrade or rotation sends
    it (Heat keeps what the create gave)."""
    driver = k8s.UbuntuKubernetesDriver()
    cluster = userdata_test.k8s_test.cluster()
    template = userdata_test.k8s_test.template()
    groups = [{'role': 'master', 'node_count': 1},
              {'role': 'worker', 'node_count': 2}]
    sent = [driver.stack_definition(cluster, template, groups)['parameters'],
            driver.update_parameters(cluster, template, groups),
            driver.upgrade_definition(cluster, template, groups, 1,
                                      ['PEM'])['parameters'],
            driver.ca_parameters(['PEM']), driver.rotation_parameters(),
            driver.credential_parameters(CREDENTIAL)]
    for params in sent:
        assert not {'sa_key', 'sa_pub', 'kube_ca_key'} & set(params)
