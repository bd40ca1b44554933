"""CAs made per cluster, and the certificates they sign."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
import pytest

from caas.pki import authority
from caas.pki import csr as csr_checks
from caas.pki import keystore

from .helpers import make_csr
from .helpers import verify_chain

UUID = '2f2b0c1e-7a0e-4f4e-9b1e-5d7f3a9c0b11'


class Row:
    def __init__(self, values):
        self.__dict__.update(values, cluster_uuid=UUID)


@pytest.fixture
def key(conf):
    value = keystore.generate_key()
    conf('encryption_keys', [value], group='pki')
    return value


def test_a_ca_is_an_ec_p256_ca_of_the_cluster(key):
    rows = authority.new_cas(UUID, ('kubernetes', 'etcd', 'front_proxy'))
    assert [r['ca_type'] for r in rows] == ['kubernetes', 'etcd',
                                            'front_proxy']
    certs = [x509.load_pem_x509_certificate(r['cert_pem'].encode())
             for r in rows]
    for cert in certs:
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == 'secp256r1'
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca
        assert UUID in cert.subject.rfc4514_string()
        cert.verify_directly_issued_by(cert)
    # Three CAs, three keys.
    assert len({c.public_key().public_numbers().x for c in certs}) == 3


def test_signed_certificate_is_a_client_cert_of_the_ca(key, conf):
    conf('cert_validity_days', 30, group='pki')
    row = Row(authority.new_cas(UUID, ('kubernetes',))[0])
    pem = authority.sign(row, csr_checks.check(make_csr()))
    cert, ca = verify_chain(pem, row.cert_pem)
    assert cert.issuer == ca.subject
    assert cert.subject.rfc4514_string() == 'O=system:masters,CN=admin'
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert not bc.value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=30) + authority.CLOCK_SKEW


def test_a_certificate_never_outlives_its_ca(key, conf):
    conf('ca_validity_days', 10, group='pki')
    row = Row(authority.new_cas(UUID, ('kubernetes',))[0])
    conf('cert_validity_days', 365, group='pki')
    cert, ca = verify_chain(
        authority.sign(row, csr_checks.check(make_csr())), row.cert_pem)
    assert cert.not_valid_after_utc <= ca.not_valid_after_utc


def test_no_key_means_no_ca(conf):
    conf('encryption_keys', [], group='pki')
    with pytest.raises(keystore.NoEncryptionKey) as err:
        authority.new_cas(UUID, ('kubernetes',))
    assert err.value.code == 503
    assert '[pki] encryption_keys' in str(err.value)


def test_a_bad_key_is_named(conf):
    conf('encryption_keys', ['not-a-fernet-key'], group='pki')
    with pytest.raises(keystore.BadEncryptionKey) as err:
        authority.new_cas(UUID, ('kubernetes',))
    assert 'entry 0' in str(err.value)
