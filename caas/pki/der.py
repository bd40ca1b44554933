"""DER of the one certificate shape caas makes without a builder: a
cluster's self-signed CA (:func:`caas.pki.authority.make_ca`).

``cryptography``'s ``CertificateBuilder`` spent ~0.07 ms of Python per CA
on objects (names, extensions, the builder's copies) for a certificate
whose every byte but the key, the serial, the times and two names is the
same for every cluster, and a create makes three. Here the to-be-signed
part is laid out with the few encodings it needs (X.690 DER); OpenSSL
still makes the key and the signature. The unit tests hold it byte for
byte to what the builder makes of the same inputs.
"""

import base64
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def tlv(tag, content):
    """One DER element: tag, definite length, content."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, 'big')
    return bytes((tag, 0x80 | len(length))) + length + content


def sequence(*items):
    return tlv(0x30, b''.join(items))


def integer(value):
    """A non-negative INTEGER, in its fewest octets (a leading zero octet
    when the first one's top bit is set)."""
    return tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8, 'big'))


def time(value):
    """RFC 5280's Validity time: UTCTime through 2049, GeneralizedTime
    after; whole seconds, UTC."""
    if 1950 <= value.year < 2050:
        return tlv(0x17, value.strftime('%y%m%d%H%M%SZ').encode('ascii'))
    return tlv(0x18, value.strftime('%Y%m%d%H%M%SZ').encode('ascii'))


def _oid(encoded):
    return tlv(0x06, encoded)


# Attribute types of the CA's name (2.5.4.10, 2.5.4.11, 2.5.4.3).
_ORGANIZATION = _oid(b'\x55\x04\x0a')
_UNIT = _oid(b'\x55\x04\x0b')
_COMMON_NAME = _oid(b'\x55\x04\x03')


def name(organization, unit, common_name):
    """An RDN sequence of O, OU and CN, each a UTF8String (what the
    builder writes for these attributes)."""
    return sequence(*[
        tlv(0x31, sequence(kind, tlv(0x0c, value.encode('utf-8'))))
        for kind, value in ((_ORGANIZATION, organization), (_UNIT, unit),
                            (_COMMON_NAME, common_name))])


#: ecdsa-with-SHA256 (1.2.840.10045.4.3.2), without parameters.
ECDSA_SHA256 = sequence(_oid(b'\x2a\x86\x48\xce\x3d\x04\x03\x02'))
_VERSION_3 = tlv(0xa0, integer(2))
_TRUE = tlv(0x01, b'\xff')
# basicConstraints (2.5.29.19), critical: a CA, no CA below it.
_CA_CONSTRAINTS = sequence(_oid(b'\x55\x1d\x13'), _TRUE, tlv(
    0x04, sequence(_TRUE, integer(0))))
# keyUsage (2.5.29.15), critical: digitalSignature, keyCertSign, cRLSign
# (bits 0, 5 and 6; the one unused trailing bit counted first).
_CA_KEY_USAGE = sequence(_oid(b'\x55\x1d\x0f'), _TRUE, tlv(
    0x04, tlv(0x03, b'\x01\x86')))
_SKI = _oid(b'\x55\x1d\x0e')


def ca_certificate(key, serial, subject, not_before, not_after):
    """A self-signed CA certificate of ``key`` (an EC private key) named
    ``subject`` (:func:`name`), signed with ECDSA and SHA-256, with the
    extensions ``make_ca`` gives a CA: basic constraints (CA, path length
    0) and key usage, both critical, and the subject key identifier (SHA-1
    of the public key, RFC 5280's first method).

    :returns: the certificate's DER.
    """
    public = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    # The key's point is the subjectPublicKey BIT STRING that ends the
    # SubjectPublicKeyInfo (P-256: 65 octets after "03 42 00").
    point = public[-65:]
    if public[-68:-65] != b'\x03\x42\x00':
        point = key.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint)
    ski = sequence(_SKI, tlv(0x04, tlv(0x04, hashlib.sha1(
        point, usedforsecurity=False).digest())))
    tbs = sequence(
        _VERSION_3, integer(serial), ECDSA_SHA256, subject,
        sequence(time(not_before), time(not_after)), subject, public,
        tlv(0xa3, sequence(_CA_CONSTRAINTS, _CA_KEY_USAGE, ski)))
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return sequence(tbs, ECDSA_SHA256, tlv(0x03, b'\x00' + signature))


def pem(der, label='CERTIFICATE'):
    """PEM text of ``der``: base64 in lines of 64 characters, as
    ``cryptography`` writes it."""
    text = base64.b64encode(der).decode('ascii')
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return '-----BEGIN %s-----\n%s\n-----END %s-----\n' % (
        label, '\n'.join(lines), label)
