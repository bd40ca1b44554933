"""``openstack coe cluster config`` and ``openstack coe ca *``: the real CLI
(python-openstackclient + python-magnumclient, run as a process) against
the embedded caas-all, and the kubeconfig it writes checked as kubectl
would: its client certificate chains to the cluster's Kubernetes CA."""

import base64
import ipaddress
import os
import shutil
import subprocess
import sys
from urllib import parse

from cryptography import x509
from cryptography.hazmat.primitives import serialization
import pytest
import yaml

from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def cli(aio, *args, check=True):
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'HOME': os.environ.get('HOME', '/tmp'), 'SHELL': '/bin/bash',
           'OS_AUTH_TYPE': 'none', 'OS_ENDPOINT': aio.api_url + '/v1'}
    proc = subprocess.run([OPENSTACK, 'coe'] + list(args), env=env,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _b64(text):
    return base64.b64decode(text).decode()


@pytest.fixture
def cluster(aio, mc):
    make_template(mc)
    c = mc.clusters.create(name='demo', cluster_template_id='k8s',
                           master_count=1, node_count=1)
    return wait_status(mc, c.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)


def test_cluster_config_writes_a_kubeconfig_that_chains_to_the_ca(
        aio, mc, cluster, tmp_path):
    out = tmp_path / 'kube'
    out.mkdir()
    proc = cli(aio, 'cluster', 'config', 'demo', '--dir', str(out))
    assert proc.stdout.strip() == 'export KUBECONFIG=%s/config' % out
    config = yaml.safe_load((out / 'config').read_text())

    server = config['clusters'][0]['cluster']['server']
    assert server == cluster.api_address
    url = parse.urlsplit(server)
    assert url.scheme == 'https' and url.port == 6443
    assert ipaddress.ip_address(url.hostname) in \
        ipaddress.ip_network('127.0.0.0/8')

    ca_pem = _b64(config['clusters'][0]['cluster'][
        'certificate-authority-data'])
    user = config['users'][0]['user']
    cert_pem = _b64(user['client-certificate-data'])
    key_pem = _b64(user['client-key-data'])
    # The CA in the kubeconfig is the cluster's Kubernetes CA ...
    assert ca_pem == mc.certificates.get(cluster_uuid=cluster.uuid).pem
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    # ... the client certificate was signed by it ...
    cert.verify_directly_issued_by(ca)
    # ... and belongs to the key written beside it.
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    assert cert.public_key().public_numbers() == \
        key.public_key().public_numbers()
    assert cert.subject.rfc4514_string() == 'O=system:masters,CN=admin'

    if shutil.which('openssl'):
        (tmp_path / 'ca.pem').write_text(ca_pem)
        (tmp_path / 'cert.pem').write_text(cert_pem)
        verify = subprocess.run(
            ['openssl', 'verify', '-purpose', 'sslclient', '-CAfile',
             str(tmp_path / 'ca.pem'), str(tmp_path / 'cert.pem')],
            capture_output=True, text=True, timeout=30)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # The same check fails against another cluster CA (the etcd one).
        (tmp_path / 'etcd.pem').write_text(
            aio_ca(mc, cluster.uuid, 'etcd'))
        wrong = subprocess.run(
            ['openssl', 'verify', '-CAfile', str(tmp_path / 'etcd.pem'),
             str(tmp_path / 'cert.pem')],
            capture_output=True, text=True, timeout=30)
        assert wrong.returncode != 0


def aio_ca(mc, uuid, ca_type):
    resp, body = mc.http_client.json_request(
        'GET', '/v1/certificates/%s?ca_cert_type=%s' % (uuid, ca_type))
    return body['pem']


def test_ca_show_sign_rotate_with_the_cli(aio, mc, cluster, tmp_path):
    shown = cli(aio, 'ca', 'show', 'demo').stdout
    assert shown.strip() == mc.certificates.get(
        cluster_uuid=cluster.uuid).pem.strip()

    from tests.unit.pki.helpers import make_csr
    csr_file = tmp_path / 'me.csr'
    csr_file.write_text(make_csr(cn='me', org=None))
    signed = cli(aio, 'ca', 'sign', 'demo', str(csr_file)).stdout
    cert = x509.load_pem_x509_certificate(signed.strip().encode())
    cert.verify_directly_issued_by(
        x509.load_pem_x509_certificate(shown.strip().encode()))

    csr_file.write_text('not a csr')
    refused = cli(aio, 'ca', 'sign', 'demo', str(csr_file), check=False)
    assert refused.returncode != 0 and 'csr' in refused.stderr

    cli(aio, 'ca', 'rotate', 'demo')
    rotated = mc.certificates.get(cluster_uuid=cluster.uuid).pem
    assert rotated.strip() != shown.strip()
    with pytest.raises(Exception):
        cert.verify_directly_issued_by(
            x509.load_pem_x509_certificate(rotated.strip().encode()))


def test_certificates_go_with_the_cluster(aio, mc, cluster):
    from caas.db.sqlalchemy import models
    from caas.db.sqlalchemy.engine import session_scope
    import sqlalchemy as sa

    def count():
        with session_scope(readonly=True) as session:
            return session.scalar(sa.select(sa.func.count()).select_from(
                models.ClusterCA).where(
                    models.ClusterCA.cluster_uuid == cluster.uuid))
    assert count() == 3
    mc.clusters.delete('demo')
    wait_status(mc, cluster.uuid, 'gone', timeout=60, poll=0.1)
    assert count() == 0
