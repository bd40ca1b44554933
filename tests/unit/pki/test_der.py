"""A cluster CA laid out by caas.pki.der is, byte for byte, what
cryptography's CertificateBuilder makes of the same key, serial, name and
times (only the ECDSA signature, random by nature, differs)."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from caas.pki import authority
from caas.pki import der
from caas.pki import keystore

UUID = '2f2b0c1e-7a0e-4f4e-9b1e-5d7f3a9c0b11'
UTC = datetime.timezone.utc


def _builder_ca(key, serial, unit, common_name, not_before, not_after):
    """The CA as make_ca built it before (cryptography's builder)."""
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'caas'),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize('serial,unit,common_name,start,days', [
    (1, UUID, 'kubernetes CA', datetime.datetime(2026, 12, 3, 1, 2, 3), 3650),
    # A serial whose first octet has its top bit set needs a zero octet.
    ((1 << 127) - 1, UUID, 'etcd CA', datetime.datetime(2026, 1, 1), 1),
    (0x80 << 112, UUID, 'front_proxy CA', datetime.datetime(2049, 12, 31,
                                                            23, 59, 59), 1),
    # Past 2049: GeneralizedTime.
    (12345, UUID, 'kubernetes CA', datetime.datetime(2040, 6, 1), 5000),
    (0x7f, 'x', 'é ☃ CA', datetime.datetime(1950, 1, 1), 36600),
    # The longest names the builder takes: the name's length in two
    # octets.
    (2 ** 64, 'u' * 64, 'c' * 64, datetime.datetime(2030, 2, 28), 30),
])
def test_the_certificate_is_the_builders(serial, unit, common_name, start,
                                         days):
    key = ec.generate_private_key(ec.SECP256R1())
    not_before = start.replace(tzinfo=UTC)
    not_after = not_before + datetime.timedelta(days=days)
    ours = x509.load_der_x509_certificate(der.ca_certificate(
        key, serial, der.name('caas', unit, common_name), not_before,
        not_after))
    theirs = _builder_ca(key, serial, unit, common_name, not_before,
                         not_after)
    assert ours.tbs_certificate_bytes == theirs.tbs_certificate_bytes
    assert ours.signature_algorithm_oid == theirs.signature_algorithm_oid
    ours.verify_directly_issued_by(ours)
    assert ours.serial_number == serial
    assert ours.not_valid_after_utc == not_after


def test_make_ca_is_the_builders_ca_of_its_key(conf):
    conf('ca_validity_days', 1825, group='pki')
    cert_pem, key_pem = authority.make_ca(UUID, 'etcd')
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem, password=None)
    theirs = _builder_ca(key, cert.serial_number, UUID, 'etcd CA',
                         cert.not_valid_before_utc,
                         cert.not_valid_after_utc)
    assert cert.tbs_certificate_bytes == theirs.tbs_certificate_bytes
    assert cert.public_key() == key.public_key()
    # The PEM text is cryptography's own for those bytes.
    assert cert_pem == cert.public_bytes(
        serialization.Encoding.PEM).decode()
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc ==
            datetime.timedelta(days=1825) + authority.CLOCK_SKEW)


def test_every_ca_has_a_key_and_serial_of_its_own(conf):
    conf('encryption_keys', [keystore.generate_key()], group='pki')
    rows = [row for i in range(20) for row in authority.new_cas(
        '%s-%d' % (UUID[:-3], i), ('kubernetes', 'etcd', 'front_proxy'))]
    certs = [x509.load_pem_x509_certificate(r['cert_pem'].encode())
             for r in rows]
    assert len({c.public_key().public_numbers().x for c in certs}) == 60
    assert len({c.serial_number for c in certs}) == 60
    assert len({r['encrypted_key'] for r in rows}) == 60


@pytest.mark.parametrize('size', [0, 1, 127, 128, 255, 256, 65535, 65536])
def test_lengths_are_definite_and_minimal(size):
    element = der.tlv(0x04, b'x' * size)
    header = element[:len(element) - size]
    if size < 128:
        assert header == bytes((0x04, size))
    else:
        octets = (size.bit_length() + 7) // 8
        assert header == bytes((0x04, 0x80 | octets)) + size.to_bytes(
            octets, 'big')


@pytest.mark.parametrize('value,encoded', [
    (0, b'\x02\x01\x00'), (127, b'\x02\x01\x7f'), (128, b'\x02\x02\x00\x80'),
    (255, b'\x02\x02\x00\xff'), (256, b'\x02\x02\x01\x00'),
    (0x7fff, b'\x02\x02\x7f\xff'), (0x8000, b'\x02\x03\x00\x80\x00')])
def test_integers_take_their_fewest_octets(value, encoded):
    assert der.integer(value) == encoded


@pytest.mark.parametrize('curve', [ec.SECP256R1(), ec.SECP384R1()])
def test_the_key_identifier_is_the_builders_for_other_curves_too(curve):
    key = ec.generate_private_key(curve)
    now = datetime.datetime(2026, 12, 3, tzinfo=UTC)
    ours = x509.load_der_x509_certificate(der.ca_certificate(
        key, 7, der.name('caas', UUID, 'etcd CA'), now, now))
    assert ours.tbs_certificate_bytes == _builder_ca(
        key, 7, UUID, 'etcd CA', now, now).tbs_certificate_bytes
