"""Checks a CSR must pass before a cluster CA signs it.

What is signed is a client certificate for the cluster's API: the CSR must
be well-formed PEM with a valid self-signature, a key of a safe type and
size, a subject common name, and ask for nothing beyond client
authentication. Anything else is a 400 that names the problem.
"""

from cryptography import exceptions as crypto_exc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import ExtensionOID
from cryptography.x509.oid import NameOID

from caas.common import exceptions

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
EC_CURVES = ('secp256r1', 'secp384r1')
# Key usages a client certificate may ask for.
ALLOWED_KEY_USAGES = ('digital_signature', 'key_encipherment',
                      'content_commitment')
ALL_KEY_USAGES = ALLOWED_KEY_USAGES + (
    'data_encipherment', 'key_agreement', 'key_cert_sign', 'crl_sign')
ALLOWED_EXTENSIONS = (ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
                      ExtensionOID.EXTENDED_KEY_USAGE)


def _bad(problem):
    return exceptions.InvalidParameterValue(
        err='Invalid value for field/attribute csr: %s' % problem)


def _check_key(key):
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise _bad('an RSA key must have %d to %d bits (this one has '
                       '%d).' % (MIN_RSA_BITS, MAX_RSA_BITS, key.key_size))
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in EC_CURVES:
            raise _bad('an EC key must be on %s (this one is on %s).' % (
                ' or '.join(EC_CURVES), key.curve.name))
    else:
        raise _bad('the key must be RSA (>= %d bits) or EC (%s), not %s.' % (
            MIN_RSA_BITS, ' or '.join(EC_CURVES), type(key).__name__))


def _check_extensions(csr):
    for ext in csr.extensions:
        if ext.oid not in ALLOWED_EXTENSIONS:
            raise _bad('extension %s (%s) is not allowed; a client '
                       'certificate may only ask for key usage, extended '
                       'key usage (client authentication) and basic '
                       'constraints without CA.' % (
                           ext.oid._name, ext.oid.dotted_string))
        value = ext.value
        if ext.oid == ExtensionOID.BASIC_CONSTRAINTS and value.ca:
            raise _bad('it asks to be a CA (basic constraints CA:TRUE).')
        if ext.oid == ExtensionOID.KEY_USAGE:
            asked = [u for u in ALL_KEY_USAGES if getattr(value, u)]
            refused = [u for u in asked if u not in ALLOWED_KEY_USAGES]
            if refused:
                raise _bad('key usage %s is not allowed (allowed: %s).' % (
                    ', '.join(refused), ', '.join(ALLOWED_KEY_USAGES)))
        if ext.oid == ExtensionOID.EXTENDED_KEY_USAGE:
            refused = [u for u in value
                       if u != ExtendedKeyUsageOID.CLIENT_AUTH]
            if refused:
                raise _bad('extended key usage %s is not allowed (only '
                           'clientAuth).' % ', '.join(
                               u._name for u in refused))


def check(pem):
    """Parse and check a CSR; return the CSR object.

    :raises: InvalidParameterValue (400) naming what is wrong.
    """
    try:
        csr = x509.load_pem_x509_csr(pem.encode('utf-8'))
    except (ValueError, UnicodeEncodeError):
        raise _bad('not a PEM-encoded certificate signing request.')
    try:
        key = csr.public_key()
    except (ValueError, crypto_exc.UnsupportedAlgorithm):
        raise _bad('its public key cannot be read.')
    _check_key(key)
    try:
        signed = csr.is_signature_valid
    except crypto_exc.UnsupportedAlgorithm:
        signed = False
    if not signed:
        raise _bad('its signature does not verify with its own key.')
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or not str(names[0].value).strip():
        raise _bad('the subject has no common name (CN).')
    try:
        _check_extensions(csr)
    except (ValueError, x509.DuplicateExtension,
            x509.UnsupportedGeneralNameType) as exc:
        raise _bad('its extensions cannot be read (%s).' % exc)
    return csr
