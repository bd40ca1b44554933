"""Every CSR the signer must refuse is refused with a 400 naming why."""

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
import pytest

from caas.common import exceptions
from caas.pki import csr as csr_checks

from .helpers import client_eku
from .helpers import ec_key
from .helpers import key_usage
from .helpers import make_csr
from .helpers import rsa_key
from .helpers import server_eku
from .helpers import tamper


def refused(pem):
    with pytest.raises(exceptions.InvalidParameterValue) as err:
        csr_checks.check(pem)
    assert err.value.code == 400
    assert 'csr' in str(err.value)
    return str(err.value)


def test_magnumclients_csr_is_accepted():
    csr = csr_checks.check(make_csr())
    assert csr.subject.rfc4514_string() == 'O=system:masters,CN=admin'


@pytest.mark.parametrize('curve', [ec.SECP256R1, ec.SECP384R1])
def test_ec_keys_on_allowed_curves_are_accepted(curve):
    csr_checks.check(make_csr(ec_key(curve)))


def test_client_usages_are_accepted():
    csr_checks.check(make_csr(extensions=[
        (key_usage(digital_signature=True, key_encipherment=True), True),
        (client_eku(), False),
        (x509.BasicConstraints(ca=False, path_length=None), True)]))


def test_garbage_is_refused():
    assert 'PEM' in refused('hello')
    assert 'PEM' in refused('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n'
                            '-----END CERTIFICATE REQUEST-----\n')


def test_bad_signature_is_refused():
    assert 'signature' in refused(tamper(make_csr()))


def test_small_rsa_key_is_refused():
    assert '1024' in refused(make_csr(rsa_key(1024)))


def test_other_curve_is_refused():
    assert 'secp521r1' in refused(make_csr(ec_key(ec.SECP521R1)))


def test_other_key_type_is_refused():
    assert 'Ed25519' in refused(make_csr(ed25519.Ed25519PrivateKey.generate()))


def test_missing_common_name_is_refused():
    assert 'CN' in refused(make_csr(cn=None))
    assert 'CN' in refused(make_csr(cn=' '))


def test_ca_request_is_refused():
    assert 'CA' in refused(make_csr(extensions=[
        (x509.BasicConstraints(ca=True, path_length=None), True)]))


@pytest.mark.parametrize('usage', ['key_cert_sign', 'crl_sign',
                                   'data_encipherment'])
def test_signing_key_usages_are_refused(usage):
    assert usage in refused(make_csr(extensions=[
        (key_usage(digital_signature=True, **{usage: True}), True)]))


def test_server_auth_is_refused():
    assert 'serverAuth' in refused(make_csr(extensions=[(server_eku(),
                                                         False)]))


def test_other_extensions_are_refused():
    san = x509.SubjectAlternativeName([x509.DNSName('kubernetes')])
    assert 'subjectAltName' in refused(make_csr(extensions=[(san, False)]))
