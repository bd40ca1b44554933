"""CSRs of every shape the signer must accept or refuse."""

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

_KEYS = {}


def rsa_key(bits=2048):
    # Cached: RSA generation is the slow part of these tests.
    if bits not in _KEYS:
        _KEYS[bits] = rsa.generate_private_key(public_exponent=65537,
                                               key_size=bits)
    return _KEYS[bits]


def make_csr(key=None, cn='admin', org='system:masters', extensions=(),
             pem=True):
    key = key or rsa_key()
    attrs = []
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(attrs))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) \
        else hashes.SHA256()
    csr = builder.sign(key, algorithm)
    if not pem:
        return csr
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def key_usage(**on):
    names = ('digital_signature', 'content_commitment', 'key_encipherment',
             'data_encipherment', 'key_agreement', 'key_cert_sign',
             'crl_sign', 'encipher_only', 'decipher_only')
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def client_eku():
    return x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])


def server_eku():
    return x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])


def ec_key(curve=ec.SECP256R1):
    return ec.generate_private_key(curve())


def tamper(pem):
    """The same CSR with one byte of its signature changed."""
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(
        serialization.Encoding.DER))
    der[-3] ^= 0x01
    return x509.load_der_x509_csr(bytes(der)).public_bytes(
        serialization.Encoding.PEM).decode()


def verify_chain(cert_pem, ca_pem):
    """Raise unless cert_pem is signed by ca_pem's key and names it issuer."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert.verify_directly_issued_by(ca)
    return cert, ca


def conductor_makes_cas(cluster_uuid, owner='ca-maker'):
    """Play the create's conductor as far as the cluster's CAs: claim its
    create operation, make them as the stack's step does
    (``caas.db.certificates.make_for_create``), give the claim back.

    :returns: the CA rows as that step got them.
    """
    from caas.conductor import ownership
    from caas.db import api as db_api
    from caas.db import certificates as ca_db
    from caas.db import operations as db_ops
    cluster = db_api.get_cluster_by_uuid(cluster_uuid,
                                         scope=db_api.ALL_PROJECTS)
    template = db_api.get_cluster_template(cluster.cluster_template_id,
                                           scope=db_api.ALL_PROJECTS)
    op_id = cluster.operation_id
    epoch = db_ops.claim(op_id, owner)
    assert epoch is not None, 'operation %s is claimed already' % op_id
    rows = ca_db.make_for_create(
        ownership.Fence(op_id, cluster_uuid, owner, epoch), template.coe)
    assert db_ops.release(op_id, owner, epoch)
    return rows
