"""CA keys at rest: encrypted, readable only with the configured keys,
still readable after a key rotation, re-encrypted by rekey."""

from cryptography.hazmat.primitives import serialization
import pytest
import sqlalchemy as sa

from caas.db import api as db
from caas.db import certificates as ca_db
from caas.db.sqlalchemy import models
from caas.pki import authority
from caas.pki import keystore


def _cluster(types=('kubernetes',)):
    uuid = db.new_uuid()
    db.create_cluster(
        {'uuid': uuid, 'name': 'c', 'project_id': 'p', 'node_count': 1,
         'master_count': 1, 'cluster_template_id': db.new_uuid()},
        [], timeout_minutes=60, cas=authority.new_cas(uuid, types))
    return uuid


def _stored(db_engine, uuid):
    with db_engine.connect() as conn:
        return conn.execute(sa.select(models.ClusterCA.__table__).where(
            models.ClusterCA.cluster_uuid == uuid)).mappings().all()


@pytest.fixture
def old_key(conf):
    key = keystore.generate_key()
    conf('encryption_keys', [key], group='pki')
    return key


def test_the_stored_ca_key_is_not_plaintext(db, old_key):
    uuid = _cluster()
    (row,) = _stored(db, uuid)
    assert 'PRIVATE KEY' not in row['encrypted_key']
    assert 'BEGIN CERTIFICATE' in row['cert_pem']
    key = keystore.decrypt(row['encrypted_key'], uuid)
    assert b'PRIVATE KEY' in key
    # No line of the key's base64 (a random token may hold 'MII' by
    # chance: the key's own text is what must not be there).
    for line in key.decode().splitlines()[1:-1]:
        assert line[:16] not in row['encrypted_key']
    serialization.load_pem_private_key(key, password=None)


def test_another_key_cannot_decrypt(db, old_key, conf):
    uuid = _cluster()
    (row,) = _stored(db, uuid)
    conf('encryption_keys', [keystore.generate_key()], group='pki')
    with pytest.raises(keystore.UndecryptableKey) as err:
        keystore.decrypt(row['encrypted_key'], uuid)
    assert uuid in str(err.value)


def test_after_key_rotation_old_rows_still_read_and_new_rows_use_new_key(
        db, old_key, conf):
    before = _cluster()
    new_key = keystore.generate_key()
    conf('encryption_keys', [new_key, old_key], group='pki')
    after = _cluster()
    (old_row,) = _stored(db, before)
    (new_row,) = _stored(db, after)
    assert b'PRIVATE KEY' in keystore.decrypt(old_row['encrypted_key'],
                                              before)
    # The new row was encrypted with the new key only.
    with pytest.raises(keystore.UndecryptableKey):
        keystore.decrypt(new_row['encrypted_key'], after, keys=[old_key])
    assert b'PRIVATE KEY' in keystore.decrypt(new_row['encrypted_key'],
                                              after, keys=[new_key])
    # The old row still needs the old key until it is re-encrypted.
    with pytest.raises(keystore.UndecryptableKey):
        keystore.decrypt(old_row['encrypted_key'], before, keys=[new_key])


def test_rekey_lets_the_old_key_go(db, old_key, conf):
    uuids = [_cluster(('kubernetes', 'etcd'))
             for _ in range(3)]
    new_key = keystore.generate_key()
    conf('encryption_keys', [new_key, old_key], group='pki')
    assert ca_db.rekey(keystore.rotate, batch=2) == 6
    conf('encryption_keys', [new_key], group='pki')
    for uuid in uuids:
        for row in _stored(db, uuid):
            assert b'PRIVATE KEY' in keystore.decrypt(row['encrypted_key'],
                                                      uuid)


def test_cas_go_with_their_cluster(db, old_key):
    from caas.db.sqlalchemy.engine import session_scope
    uuid = _cluster(('kubernetes', 'etcd', 'front_proxy'))
    assert len(_stored(db, uuid)) == 3
    with session_scope() as session:
        session.execute(sa.delete(models.Cluster).where(
            models.Cluster.uuid == uuid))
    assert _stored(db, uuid) == []


def test_the_embedded_key_is_made_once_private_and_kept(tmp_path):
    first = keystore.ensure_local_key(str(tmp_path))
    path = tmp_path / keystore.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    # A restart reads the same key, so it can still decrypt what it wrote.
    assert keystore.ensure_local_key(str(tmp_path)) == first
    token = keystore.encrypt(b'secret', keys=[first])
    assert keystore.decrypt(token, 'c', keys=[
        keystore.ensure_local_key(str(tmp_path))]) == b'secret'


def _counting_fernets(monkeypatch):
    made = []
    real = keystore.fernet.Fernet

    def counting(key):
        made.append(key)
        return real(key)
    monkeypatch.setattr(keystore.fernet, 'Fernet', counting)
    return made


def test_the_ciphers_are_built_once_per_key_list(old_key, conf,
                                                 monkeypatch):
    new_key = keystore.generate_key()
    made = _counting_fernets(monkeypatch)
    conf('encryption_keys', [new_key, old_key], group='pki')
    for _ in range(5):
        authority.new_cas(db.new_uuid(), ('kubernetes', 'etcd',
                                          'front_proxy'))
        keystore.encrypt(b'a token')
    # Five creates (a check and three CA keys each) and five tokens: the
    # two keys were made into ciphers once.
    assert len(made) == 2


def test_a_changed_key_list_is_used_at_once(old_key, conf):
    token = keystore.encrypt(b'secret')
    new_key = keystore.generate_key()
    conf('encryption_keys', [new_key], group='pki')
    # Not the cipher of the list before: the old token is unreadable,
    # and a new one is made with the new key only.
    with pytest.raises(keystore.UndecryptableKey):
        keystore.decrypt(token, 'c')
    assert keystore.decrypt(keystore.encrypt(b'x'), 'c',
                            keys=[new_key]) == b'x'
    conf('encryption_keys', [' '], group='pki')
    with pytest.raises(keystore.NoEncryptionKey):
        keystore.encrypt(b'x')
    conf('encryption_keys', ['not a key'], group='pki')
    with pytest.raises(keystore.BadEncryptionKey):
        keystore.check_configured()
