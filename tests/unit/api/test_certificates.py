"""``/v1/certificates`` through the WSGI app: Magnum's bodies and codes,
project scoping, reader vs member, CSR refusals, rotation, a cluster whose
CAs are not made yet, and no private key ever in a response or a log
line."""

import logging

import pytest
import sqlalchemy as sa

from caas.db import certificates as ca_db
from caas.db.sqlalchemy import models
from caas.db.sqlalchemy.engine import session_scope
from tests.unit.pki.helpers import conductor_makes_cas
from tests.unit.pki.helpers import make_csr
from tests.unit.pki.helpers import tamper
from tests.unit.pki.helpers import verify_chain

from .conftest import ADMIN
from .conftest import PROJECT_A
from .conftest import PROJECT_B
from .conftest import settle
from .conftest import template_body

READER_A = {'X-Project-Id': 'project-a', 'X-User-Id': 'rita',
            'X-Roles': 'reader'}
V15 = {'OpenStack-API-Version': 'container-infra 1.5'}


@pytest.fixture
def make_cluster(make_cluster):
    """A cluster as the API accepted it, and its CAs as its create's
    conductor makes them (the API makes none)."""
    def make(*args, **kwargs):
        uuid = make_cluster(*args, **kwargs)
        conductor_makes_cas(uuid)
        return uuid
    return make


def _h(*dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


def _ca(api, ident, headers=PROJECT_A, **query):
    qs = ''.join('&%s=%s' % kv for kv in query.items()).replace('&', '?', 1)
    return api.get('/v1/certificates/%s%s' % (ident, qs), headers=headers)


def test_a_kubernetes_cluster_has_three_distinct_cas(api, make_cluster):
    uuid = make_cluster()
    pems = {}
    for ca_type in ('kubernetes', 'etcd', 'front_proxy'):
        resp = _ca(api, uuid, ca_cert_type=ca_type)
        assert resp.status_code == 200, resp.json_body
        assert resp.json_body['cluster_uuid'] == uuid
        assert resp.json_body['pem'].startswith('-----BEGIN CERTIFICATE')
        assert resp.json_body['links'][0]['href'].endswith(
            '/v1/certificates/%s' % uuid)
        pems[ca_type] = resp.json_body['pem']
    assert len(set(pems.values())) == 3
    default = _ca(api, 'c1')     # by name, default type
    assert default.json_body['pem'] == pems['kubernetes']
    assert set(default.json_body) == {'cluster_uuid', 'pem', 'links'}


def test_unknown_ca_type_is_a_400_naming_it(api, make_cluster):
    uuid = make_cluster()
    resp = _ca(api, uuid, ca_cert_type='ssh')
    assert resp.status_code == 400
    assert 'ssh' in resp.json_body['errors'][0]['detail']
    assert 'front_proxy' in resp.json_body['errors'][0]['detail']


def test_sign_returns_a_client_cert_of_the_cluster_ca(api, make_cluster):
    uuid = make_cluster()
    csr = make_csr()
    resp = api.post('/v1/certificates', {'cluster_uuid': uuid, 'csr': csr},
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    body = resp.json_body
    assert body['cluster_uuid'] == uuid and body['csr'] == csr
    assert body['links'][0]['href'].endswith('/v1/certificates/%s' % uuid)
    verify_chain(body['pem'], _ca(api, uuid).json_body['pem'])


def test_sign_with_the_etcd_ca(api, make_cluster):
    uuid = make_cluster()
    resp = api.post('/v1/certificates', {'cluster_uuid': 'c1',
                                         'csr': make_csr(),
                                         'ca_cert_type': 'etcd'},
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    etcd = _ca(api, uuid, ca_cert_type='etcd').json_body['pem']
    verify_chain(resp.json_body['pem'], etcd)
    with pytest.raises(Exception):
        verify_chain(resp.json_body['pem'], _ca(api, uuid).json_body['pem'])


@pytest.mark.parametrize('body,named', [
    ({'csr': 'x'}, 'cluster_uuid'),
    ({'cluster_uuid': 'c1'}, 'csr'),
    ({'cluster_uuid': 'c1', 'csr': 'not a csr'}, 'PEM'),
    ({'cluster_uuid': 'c1', 'csr': 'CSR', 'ca_cert_type': 'ssh'},
     'ca_cert_type'),
    ({'cluster_uuid': 'c1', 'csr': 'CSR', 'pem': 'x'}, 'pem'),
    ({'cluster_uuid': 'nope', 'csr': 'CSR'}, 'nope'),
    ({'cluster_uuid': 'c1', 'csr': 'x' * 20000}, 'csr'),
])
def test_bad_sign_requests_are_400s_naming_the_problem(api, make_cluster,
                                                       body, named):
    make_cluster()
    body = {k: (make_csr() if v == 'CSR' else v) for k, v in body.items()}
    resp = api.post('/v1/certificates', body, headers=PROJECT_A)
    assert resp.status_code == 400, resp.json_body
    assert named in resp.json_body['errors'][0]['detail']


def test_a_tampered_csr_is_refused(api, make_cluster):
    make_cluster()
    resp = api.post('/v1/certificates',
                    {'cluster_uuid': 'c1', 'csr': tamper(make_csr())},
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'signature' in resp.json_body['errors'][0]['detail']


def _hidden_from_project_b(api, uuid):
    """Another project finds neither the cluster's CA nor its rotation
    (404), nor the cluster named in a signing body (Magnum's 400)."""
    assert _ca(api, uuid, headers=PROJECT_B).status_code == 404
    resp = api.post('/v1/certificates', {'cluster_uuid': uuid,
                                         'csr': make_csr()},
                    headers=PROJECT_B)
    assert resp.status_code == 400
    assert 'could not be found' in resp.json_body['errors'][0]['detail']
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_B, V15))
    assert resp.status_code == 404


def test_another_project_sees_neither_ca_nor_signing(api, make_cluster):
    uuid = make_cluster()
    _hidden_from_project_b(api, uuid)
    assert _ca(api, uuid, headers=ADMIN).status_code == 200


def test_a_reader_may_get_the_ca_but_not_sign_or_rotate(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    assert _ca(api, uuid, headers=READER_A).status_code == 200
    resp = api.post('/v1/certificates', {'cluster_uuid': uuid,
                                         'csr': make_csr()},
                    headers=READER_A)
    assert resp.status_code == 403
    assert 'certificate:create' in resp.json_body['errors'][0]['detail']
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(READER_A, V15))
    assert resp.status_code == 403


def test_rotation_needs_1_5(api, make_cluster):
    uuid = make_cluster()
    settle(uuid)
    resp = api.patch('/v1/certificates/%s' % uuid,
                     headers=_h(PROJECT_A, {
                         'OpenStack-API-Version': 'container-infra 1.4'}))
    assert resp.status_code == 406
    assert '1.5' in resp.json_body['errors'][0]['detail']


def test_rotation_issues_new_cas_and_old_certs_stop_verifying(api,
                                                             make_cluster):
    uuid = make_cluster()
    settle(uuid)
    before = {t: _ca(api, uuid, ca_cert_type=t).json_body['pem']
              for t in ('kubernetes', 'etcd', 'front_proxy')}
    old_cert = api.post('/v1/certificates', {'cluster_uuid': uuid,
                                             'csr': make_csr()},
                        headers=PROJECT_A).json_body['pem']
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_A, V15))
    assert resp.status_code == 202, resp.json_body
    assert resp.json_body == {'uuid': uuid}
    after = {t: _ca(api, uuid, ca_cert_type=t).json_body['pem']
             for t in before}
    assert all(after[t] != before[t] for t in before)
    with pytest.raises(Exception):
        verify_chain(old_cert, after['kubernetes'])
    new_cert = api.post('/v1/certificates', {'cluster_uuid': uuid,
                                             'csr': make_csr()},
                        headers=PROJECT_A).json_body['pem']
    verify_chain(new_cert, after['kubernetes'])
    with session_scope(readonly=True) as session:
        rows = list(session.scalars(sa.select(models.ClusterCA).where(
            models.ClusterCA.cluster_uuid == uuid)))
    assert len(rows) == 3 and all(r.rotated_at is not None for r in rows)


def test_rotation_while_an_operation_runs_is_a_409(api, make_cluster):
    uuid = make_cluster()       # its create is still in progress
    before = _ca(api, uuid).json_body['pem']
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_A, V15))
    assert resp.status_code == 409
    assert _ca(api, uuid).json_body['pem'] == before


def test_rotation_of_a_tls_disabled_cluster_is_refused(api, make_cluster):
    resp = api.post('/v1/clustertemplates',
                    template_body(name='notls', tls_disabled=True),
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    resp = api.post('/v1/clusters', {'name': 'plain',
                                     'cluster_template_id': 'notls'},
                    headers=PROJECT_A)
    uuid = resp.json_body['uuid']
    settle(uuid)
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_A, V15))
    assert resp.status_code == 400
    assert 'non-TLS' in resp.json_body['errors'][0]['detail']


def test_without_a_key_cluster_create_is_refused_clearly(api, template,
                                                          conf):
    conf('encryption_keys', [], group='pki')
    resp = api.post('/v1/clusters', {'name': 'nokey',
                                     'cluster_template_id': template['uuid']},
                    headers=PROJECT_A)
    assert resp.status_code == 503
    assert '[pki] encryption_keys' in resp.json_body['errors'][0]['detail']
    assert api.get('/v1/clusters', headers=PROJECT_A).json_body[
        'clusters'] == []


def test_no_private_key_in_responses_or_logs(api, make_cluster, caplog):
    caplog.set_level(logging.DEBUG)
    uuid = make_cluster()
    settle(uuid)
    texts = [_ca(api, uuid, ca_cert_type=t).get_data(as_text=True)
             for t in ('kubernetes', 'etcd', 'front_proxy')]
    texts.append(api.post('/v1/certificates', {'cluster_uuid': uuid,
                                               'csr': make_csr()},
                          headers=PROJECT_A).get_data(as_text=True))
    texts.append(api.get('/v1/clusters/%s' % uuid,
                         headers=PROJECT_A).get_data(as_text=True))
    texts.append(api.patch('/v1/certificates/%s' % uuid,
                           headers=_h(PROJECT_A, V15)).get_data(as_text=True))
    with session_scope(readonly=True) as session:
        tokens = list(session.scalars(sa.select(
            models.ClusterCA.encrypted_key)))
    texts.append(caplog.text)
    for text in texts:
        assert 'PRIVATE KEY' not in text
        assert not any(token in text for token in tokens)


WRONG_VALUES = [None, True, -1, 2 ** 63, 1.5, '', 'x' * 5000, '\u2603\x00',
                [], ['a'], {}, {'a': {'b': []}}]


@pytest.mark.parametrize('field', ['cluster_uuid', 'csr', 'ca_cert_type'])
def test_every_wrong_value_is_a_clean_4xx(api, make_cluster, field):
    make_cluster()
    for value in WRONG_VALUES:
        body = {'cluster_uuid': 'c1', 'csr': make_csr(), field: value}
        resp = api.post('/v1/certificates', body, headers=PROJECT_A)
        if field == 'ca_cert_type' and value is None:
            assert resp.status_code == 201
            continue
        assert 400 <= resp.status_code < 500, (value, resp.status_code)
        assert resp.json_body['errors'][0]['status'] == resp.status_code


@pytest.mark.parametrize('raw', [b'', b'{', b'[]', b'null', b'"x"', b'1',
                                 b'\xff\xfe'])
def test_malformed_bodies_are_400s(api, raw):
    resp = api.post('/v1/certificates', raw=raw, headers=dict(
        PROJECT_A, **{'Content-Type': 'application/json'}))
    assert resp.status_code == 400


def test_pem_that_is_not_a_csr_is_refused(api, make_cluster):
    uuid = make_cluster()
    ca_pem = _ca(api, uuid).json_body['pem']
    garbage = ('-----BEGIN CERTIFICATE REQUEST-----\n' +
               'MIIB' * 40 + '\n-----END CERTIFICATE REQUEST-----\n')
    for pem in (ca_pem, garbage):
        resp = api.post('/v1/certificates', {'cluster_uuid': uuid,
                                             'csr': pem}, headers=PROJECT_A)
        assert resp.status_code == 400, resp.json_body
        assert 'csr' in resp.json_body['errors'][0]['detail']


def test_rotation_starts_an_operation_after_committing_the_new_cas(
        api, make_cluster, rpc):
    uuid = make_cluster()
    settle(uuid)
    rpc.casts.clear()
    before = _ca(api, uuid).json_body['pem']
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_A, V15))
    assert resp.status_code == 202
    # FakeRpc read the committed rows: the operation holds the cluster.
    [cast] = rpc.casts
    assert cast['method'] == cast['kind'] == 'cluster_ca_rotate'
    cluster = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert cluster['status'] == 'UPDATE_IN_PROGRESS'
    assert _ca(api, uuid).json_body['pem'] != before


def test_a_rotation_while_a_rotation_runs_is_a_409_and_keeps_the_ca(
        api, make_cluster, rpc):
    uuid = make_cluster()
    settle(uuid)
    assert api.patch('/v1/certificates/%s' % uuid,
                     headers=_h(PROJECT_A, V15)).status_code == 202
    rotated = _ca(api, uuid).json_body['pem']
    rpc.casts.clear()
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_A, V15))
    assert resp.status_code == 409
    assert 'UPDATE_IN_PROGRESS' in resp.json_body['errors'][0]['detail']
    assert _ca(api, uuid).json_body['pem'] == rotated
    assert rpc.casts == []


def test_a_cluster_whose_create_failed_keeps_its_ca(api, make_cluster, rpc):
    uuid = make_cluster()
    settle(uuid, status='CREATE_FAILED')
    before = _ca(api, uuid).json_body['pem']
    rpc.casts.clear()
    resp = api.patch('/v1/certificates/%s' % uuid, headers=_h(PROJECT_A, V15))
    assert resp.status_code == 409
    assert 'CREATE_FAILED' in resp.json_body['errors'][0]['detail']
    assert _ca(api, uuid).json_body['pem'] == before
    assert rpc.casts == []


@pytest.fixture
def accepted(api, template):
    """A cluster as POST /v1/clusters left it: no CA (its create's
    conductor has not made them)."""
    def make(name='c1', **kwargs):
        resp = api.post('/v1/clusters', dict(
            kwargs, name=name, cluster_template_id=template['uuid']),
            headers=PROJECT_A)
        assert resp.status_code == 202, resp.json_body
        return resp.json_body['uuid']
    return make


def _not_made(resp, uuid, status):
    assert resp.status_code == 409, resp.json_body
    [error] = resp.json_body['errors']
    assert error['status'] == 409
    assert ('The CAs of cluster %s are not made yet (status %s)'
            % (uuid, status)) in error['detail'], error['detail']


@pytest.mark.parametrize('status', ['CREATE_IN_PROGRESS', 'CREATE_FAILED'])
def test_before_its_cas_are_made_each_certificate_call_is_a_409(
        api, accepted, rpc, status):
    """While the create runs, or when it failed before the stack: GET,
    POST (sign) and PATCH (rotate) say so, never 404 nor 500; nothing is
    written or cast."""
    uuid = accepted()
    if status != 'CREATE_IN_PROGRESS':
        settle(uuid, status=status)
    rpc.casts.clear()
    _not_made(_ca(api, uuid), uuid, status)
    _not_made(_ca(api, 'c1', ca_cert_type='etcd'), uuid, status)
    _not_made(api.post('/v1/certificates', {'cluster_uuid': uuid,
                                            'csr': make_csr()},
                       headers=PROJECT_A), uuid, status)
    _not_made(api.patch('/v1/certificates/%s' % uuid,
                        headers=_h(PROJECT_A, V15)), uuid, status)
    assert rpc.casts == []
    with session_scope(readonly=True) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(
            models.ClusterCA)) == 0
    cluster = api.get('/v1/clusters/%s' % uuid, headers=PROJECT_A).json_body
    assert cluster['status'] == status


def test_before_its_cas_are_made_scope_and_roles_answer_as_before(
        api, accepted):
    """Another project still gets 404 (400 for a body's cluster), a reader
    403 for signing and rotating: the 409 tells no more than they got."""
    uuid = accepted()
    settle(uuid, status='CREATE_FAILED')
    _hidden_from_project_b(api, uuid)
    _not_made(_ca(api, uuid, headers=READER_A), uuid, 'CREATE_FAILED')
    assert api.post('/v1/certificates', {'cluster_uuid': uuid,
                                         'csr': make_csr()},
                    headers=READER_A).status_code == 403
    assert api.patch('/v1/certificates/%s' % uuid,
                     headers=_h(READER_A, V15)).status_code == 403
    _not_made(_ca(api, uuid, headers=ADMIN), uuid, 'CREATE_FAILED')


def test_a_cluster_failed_before_its_cas_is_deleted(api, accepted, rpc):
    uuid = accepted()
    settle(uuid, status='CREATE_FAILED')
    rpc.casts.clear()
    resp = api.delete('/v1/clusters/%s' % uuid, headers=PROJECT_A)
    assert resp.status_code == 204, resp.json_body
    [cast] = rpc.casts
    assert cast['method'] == 'cluster_delete'


def test_the_create_makes_no_ca_until_its_conductor_does(api, accepted):
    uuid = accepted()
    assert ca_db.list_ca_types(uuid) == []
    rows = conductor_makes_cas(uuid)
    assert [r.ca_type for r in rows] == ['kubernetes', 'etcd', 'front_proxy']
    resp = _ca(api, uuid, ca_cert_type='etcd')
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body['pem'] == rows[1].cert_pem
