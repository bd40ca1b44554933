"""Certificate authorities: made per cluster, and signing client certificates.

CA keys are ECDSA P-256: Kubernetes (kubeadm, client-go), etcd and Docker
all accept them, a key is made in well under a millisecond (an RSA-2048 key
takes ~50-100 ms, and a cluster create makes three), and signatures are
small. Client CSRs may use RSA or EC keys
(see :mod:`caas.pki.csr`); python-magnumclient sends RSA-2048.
"""

import datetime
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

from caas.conf import CONF
from caas.pki import keystore

# Certificates start a little in the past so that a node whose clock is
# slightly behind still accepts them.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _serial():
    # 128 random bits (RFC 5280 allows up to 20 octets, positive).
    return uuid.uuid4().int >> 1


def make_ca(cluster_uuid, ca_type):
    """A new self-signed CA.

    :returns: (certificate PEM text, private key PEM bytes)
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'caas'),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, cluster_uuid),
        x509.NameAttribute(NameOID.COMMON_NAME, '%s CA' % ca_type),
    ])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + datetime.timedelta(
                days=CONF.pki.ca_validity_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def new_cas(cluster_uuid, types):
    """CA rows for a new cluster, keys already encrypted.

    :raises: NoEncryptionKey before any key is made if none is configured.
    """
    keystore.check_configured()
    rows = []
    for ca_type in types:
        cert_pem, key_pem = make_ca(cluster_uuid, ca_type)
        rows.append({'ca_type': ca_type, 'cert_pem': cert_pem,
                     'encrypted_key': keystore.encrypt(key_pem)})
    return rows


def sign(ca_row, csr):
    """Sign a checked client CSR with the CA in ``ca_row``.

    The certificate carries the CSR's subject and public key and nothing
    else the requester asked for: the extensions are ours (not a CA,
    client authentication only), and it ends after
    ``[pki] cert_validity_days`` or with its CA, whichever is first.

    :returns: the certificate PEM text.
    """
    key = serialization.load_pem_private_key(
        keystore.decrypt(ca_row.encrypted_key, ca_row.cluster_uuid),
        password=None)
    ca_cert = x509.load_pem_x509_certificate(ca_row.cert_pem.encode())
    now = _now()
    not_after = min(now + datetime.timedelta(
        days=CONF.pki.cert_validity_days), ca_cert.not_valid_after_utc)
    is_rsa = not isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
    cert = (x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(_serial())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=is_rsa, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_cert.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()
