"""A new cluster's CAs as its create's conductor makes them
(``caas.db.certificates.make_for_create``): once per type whatever runs
again, never replacing a CA, and written under the operation's claim only,
on SQLite and on PostgreSQL (one statement there)."""

import threading

import pytest
import sqlalchemy as sa
from cryptography import x509

from caas.common import exceptions
from caas.conductor import ownership
from caas.db import certificates as ca_db
from caas.db import operations as db_ops
from caas.db.sqlalchemy import engine
from caas.db.sqlalchemy import models
from caas.pki import keystore
from tests.unit.conductor.conftest import PKI_KEY
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import make_swarm_cluster

K8S_TYPES = ['kubernetes', 'etcd', 'front_proxy']


@pytest.fixture(params=['sqlite', 'postgresql'])
def store(request, conf):
    conf('encryption_keys', [PKI_KEY], group='pki')
    request.getfixturevalue('db' if request.param == 'sqlite' else 'pg_db')
    return request.param


def _claimed(owner='c1', swarm=False):
    cluster, op = make_swarm_cluster(with_ca=False) if swarm else \
        make_cluster(driver=None)
    epoch = db_ops.claim(op.id, owner)
    return cluster, ownership.Fence(op.id, cluster.uuid, owner, epoch)


def _take_over(fence, owner='c2'):
    epoch = db_ops.claim(fence.operation_id, owner, expect_owner=fence.owner,
                         expect_epoch=fence.epoch)
    assert epoch == fence.epoch + 1
    return ownership.Fence(fence.operation_id, fence.cluster_uuid, owner,
                           epoch)


def _stored(cluster_uuid):
    with engine.session_scope(readonly=True) as session:
        return [(r.id, r.ca_type, r.cert_pem, r.encrypted_key)
                for r in session.scalars(sa.select(models.ClusterCA).where(
                    models.ClusterCA.cluster_uuid == cluster_uuid).order_by(
                        models.ClusterCA.id))]


def _as_tuples(rows):
    return [(r.id, r.ca_type, r.cert_pem, r.encrypted_key) for r in rows]


def test_the_first_run_writes_one_ca_per_type_in_order(store):
    cluster, fence = _claimed()
    rows = ca_db.make_for_create(fence, 'kubernetes')
    assert [r.ca_type for r in rows] == K8S_TYPES
    assert _as_tuples(rows) == _stored(cluster.uuid)
    assert ca_db.list_ca_types(cluster.uuid) == K8S_TYPES
    for row in rows:
        cert = x509.load_pem_x509_certificate(row.cert_pem.encode())
        assert cluster.uuid in cert.subject.rfc4514_string()
        key = keystore.decrypt(row.encrypted_key, cluster.uuid)
        assert b'PRIVATE KEY' in key
    # Rows the certificates API and the stack read.
    assert ca_db.get_ca(cluster.uuid, 'etcd').cert_pem == rows[1].cert_pem


def test_a_swarm_cluster_gets_its_one_ca(store):
    cluster, fence = _claimed(swarm=True)
    rows = ca_db.make_for_create(fence, 'swarm-mode')
    assert [r.ca_type for r in rows] == ['kubernetes']
    assert len(_stored(cluster.uuid)) == 1


def test_a_run_again_under_the_same_claim_gets_the_same_cas(store):
    cluster, fence = _claimed()
    first = _as_tuples(ca_db.make_for_create(fence, 'kubernetes'))
    again = _as_tuples(ca_db.make_for_create(fence, 'kubernetes'))
    assert again == first == _stored(cluster.uuid)


def test_a_run_after_a_takeover_gets_the_first_runs_cas(store):
    """The step's conductor died after its CAs committed, before the step
    ended: the next owner's run finds them and writes nothing."""
    cluster, fence = _claimed()
    first = _as_tuples(ca_db.make_for_create(fence, 'kubernetes'))
    second = _as_tuples(ca_db.make_for_create(_take_over(fence),
                                              'kubernetes'))
    assert second == first == _stored(cluster.uuid)


def test_a_fenced_out_conductor_writes_no_ca(store):
    cluster, fence = _claimed()
    new = _take_over(fence)
    with pytest.raises(exceptions.FencedOut):
        ca_db.make_for_create(fence, 'kubernetes')
    assert _stored(cluster.uuid) == []
    made = _as_tuples(ca_db.make_for_create(new, 'kubernetes'))
    # Once the owner made them, the old claim still changes nothing: it
    # gets them (PostgreSQL, where its statement wrote nothing) or is
    # refused (SQLite, whose transaction asserts the claim first).
    try:
        seen = _as_tuples(ca_db.make_for_create(fence, 'kubernetes'))
    except exceptions.FencedOut:
        seen = made
    assert seen == made == _stored(cluster.uuid)


def test_a_finished_operation_makes_no_ca(store):
    cluster, fence = _claimed()
    assert db_ops.release(fence.operation_id, fence.owner, fence.epoch)
    with pytest.raises(exceptions.FencedOut):
        ca_db.make_for_create(fence, 'kubernetes')
    assert _stored(cluster.uuid) == []


def test_cas_that_exist_are_never_replaced(store):
    """A cluster written with a CA (a benchmark's settled cluster, a row
    of an earlier release) keeps it; the missing types are added."""
    cluster, op = make_cluster(driver=None)
    with engine.session_scope() as session:
        session.execute(sa.insert(models.ClusterCA), [{
            'cluster_uuid': cluster.uuid, 'ca_type': 'kubernetes',
            'cert_pem': 'old-cert', 'encrypted_key': 'old-key'}])
    epoch = db_ops.claim(op.id, 'c1')
    rows = ca_db.make_for_create(
        ownership.Fence(op.id, cluster.uuid, 'c1', epoch), 'kubernetes')
    assert [(r.ca_type, r.cert_pem) for r in rows][0] == (
        'kubernetes', 'old-cert')
    assert [r.ca_type for r in rows] == K8S_TYPES
    assert _as_tuples(rows) == _stored(cluster.uuid)


def _race(calls):
    """Run each of ``calls`` in a thread of its own at once; returns each
    one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait(10)
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc
    threads = [threading.Thread(target=run, args=(i, c))
               for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize('round_', range(5))
def test_two_runs_of_one_claim_at_once_leave_one_set(store, round_):
    """A step repeated through a database outage while its first attempt
    is still in flight: one set, and both get it."""
    cluster, fence = _claimed()
    results = _race([lambda: ca_db.make_for_create(fence, 'kubernetes')] * 2)
    stored = _stored(cluster.uuid)
    assert [r[1] for r in stored] == K8S_TYPES
    assert [_as_tuples(r) for r in results] == [stored, stored]


@pytest.mark.parametrize('round_', range(5))
def test_a_stale_and_a_new_owner_at_once_leave_one_set(store, round_):
    """The old owner, paused past its claim, wakes as the new one runs the
    step: one set, the new owner's run gets it, the old one never writes
    another (it is fenced out or gets the same rows)."""
    cluster, fence = _claimed()
    new = _take_over(fence)
    results = _race([lambda: ca_db.make_for_create(fence, 'kubernetes'),
                     lambda: ca_db.make_for_create(new, 'kubernetes')])
    stored = _stored(cluster.uuid)
    assert [r[1] for r in stored] == K8S_TYPES
    assert _as_tuples(results[1]) == stored
    assert isinstance(results[0], exceptions.FencedOut) or \
        _as_tuples(results[0]) == stored
