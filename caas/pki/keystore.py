"""CA private keys encrypted at rest with Fernet keys from ``[pki]``.

``MultiFernet`` over ``[pki] encryption_keys``: the first key encrypts,
every key decrypts, so an operator rotates by putting a new key first,
re-encrypting (``caas-manage pki rekey``) and only then dropping the old
key. Plaintext keys live only in memory, never in a log line or a
response.
"""

import os

from cryptography import fernet

from caas.common import exceptions
from caas.conf import CONF

KEY_FILE = 'pki-encryption.key'


class NoEncryptionKey(exceptions.CaasException):
    message = ('Clusters cannot be created: no key to encrypt their CA '
               'private keys is configured. The operator must set [pki] '
               'encryption_keys (a Fernet key; "caas-manage pki '
               'generate-key" prints one).')
    code = 503


class BadEncryptionKey(exceptions.CaasException):
    message = ('[pki] encryption_keys entry %(index)d is not a Fernet key '
               '(url-safe base64 of 32 bytes).')
    code = 503


class UndecryptableKey(exceptions.CaasException):
    message = ('The CA key of cluster %(cluster)s cannot be decrypted with '
               'any of [pki] encryption_keys; was the key that encrypted it '
               'removed?')
    code = 503


def generate_key():
    return fernet.Fernet.generate_key().decode('ascii')


# The MultiFernet of the last key list seen: (keys, cipher). A create
# encrypts three CA keys and a token, and building the ciphers (base64
# decoding each key, one Fernet object per key) cost as much as an
# encryption. Keyed by the list itself, so a changed option (a key put
# first for a rotation) is a new cipher at once. One entry: the keys in
# use are one list, and swapping the tuple is atomic.
_LAST = (None, None)


def _cipher(keys=None):
    global _LAST
    keys = tuple(k.strip() for k in (CONF.pki.encryption_keys if keys is None
                                     else keys) if k and k.strip())
    last_keys, cipher = _LAST
    if keys == last_keys:
        return cipher
    if not keys:
        raise NoEncryptionKey()
    ciphers = []
    for index, key in enumerate(keys):
        try:
            ciphers.append(fernet.Fernet(key.encode('ascii')))
        except (ValueError, UnicodeEncodeError):
            raise BadEncryptionKey(index=index)
    cipher = fernet.MultiFernet(ciphers)
    _LAST = (keys, cipher)
    return cipher


def check_configured():
    """Raise NoEncryptionKey / BadEncryptionKey unless keys are usable."""
    _cipher()


def encrypt(plaintext, keys=None):
    """Encrypt bytes with the first key; returns a text token."""
    return _cipher(keys).encrypt(plaintext).decode('ascii')


def decrypt(token, cluster_uuid, keys=None):
    try:
        return _cipher(keys).decrypt(token.encode('ascii'))
    except fernet.InvalidToken:
        raise UndecryptableKey(cluster=cluster_uuid)


def rotate(token, cluster_uuid, keys=None):
    """Re-encrypt a token with the first key (after a key rotation)."""
    try:
        return _cipher(keys).rotate(token.encode('ascii')).decode('ascii')
    except fernet.InvalidToken:
        raise UndecryptableKey(cluster=cluster_uuid)


def ensure_local_key(data_dir):
    """The embedded mode's key: made once under data_dir, kept 0600.

    Used only when no key is configured, so that ``caas-all`` works out of
    the box and a restart can still read the CA keys it wrote.
    """
    path = os.path.join(data_dir, KEY_FILE)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write(generate_key() + '\n')
    with open(path) as src:
        return src.read().strip()
