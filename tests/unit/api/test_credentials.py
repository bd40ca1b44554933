"""``PATCH /v1/credentials/{cluster}`` through the WSGI app: Magnum's code
and body, the 1.12 gate, 409 while another operation runs, scoping and
roles, and the caller's token handed to the conductor sealed, never as
text."""

import microversion_parse
import pytest
from keystonemiddleware import auth_token

from caas.api import microversions
from caas.clients import identity
from caas.common import states
from caas.conf import CONF
from caas.db import api as db

from .conftest import ADMIN
from .conftest import PROJECT_A
from .conftest import PROJECT_B
from .conftest import fake_auth_token
from .conftest import settle

READER_A = {'X-Project-Id': 'project-a', 'X-User-Id': 'rita',
            'X-Roles': 'reader'}
V112 = {'OpenStack-API-Version': 'container-infra 1.12'}
V111 = {'OpenStack-API-Version': 'container-infra 1.11'}


@pytest.fixture(autouse=True)
def max_114(monkeypatch):
    """The maximum microversion as the compat work sets it (1.14)."""
    monkeypatch.setattr(microversions, 'MAX_VERSION',
                        microversion_parse.parse_version_string('1.14'))


def _h(*dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


def _rotate(api, ident, headers=PROJECT_A, version=V112):
    return api.patch('/v1/credentials/%s' % ident,
                     headers=_h(headers, version))


@pytest.fixture
def settled(make_cluster):
    uuid = make_cluster()
    settle(uuid)
    return uuid


def test_rotation_is_accepted_with_magnums_answer(api, rpc, settled):
    resp = _rotate(api, settled)
    assert resp.status_code == 202, resp.json_body
    assert resp.json_body == {'uuid': settled}
    cast = rpc.casts[-1]
    assert cast['method'] == 'cluster_credential_rotate'
    assert cast['kind'] == states.OP_CLUSTER_CREDENTIAL_ROTATE
    row = db.get_cluster(settled, scope=db.ALL_PROJECTS)
    assert row.status == states.UPDATE_IN_PROGRESS
    assert row.operation_id == cast['operation_id']


def test_the_cluster_may_be_named(api, rpc, settled):
    assert _rotate(api, 'c1').json_body == {'uuid': settled}


@pytest.mark.parametrize('version', [None, V111])
def test_below_1_12_is_a_406_and_records_nothing(api, rpc, settled, version):
    headers = PROJECT_A if version is None else _h(PROJECT_A, version)
    resp = api.patch('/v1/credentials/%s' % settled, headers=headers)
    assert resp.status_code == 406
    assert '1.12' in resp.json_body['errors'][0]['detail']
    assert len(rpc.casts) == 1      # the create only
    assert db.get_cluster(settled, scope=db.ALL_PROJECTS).operation_id is None


def test_a_cluster_with_an_operation_in_progress_is_a_409(api, rpc,
                                                          make_cluster):
    uuid = make_cluster()            # its create is still running
    resp = _rotate(api, uuid)
    assert resp.status_code == 409
    assert len(rpc.casts) == 1


def test_a_second_rotation_while_the_first_runs_is_a_409(api, rpc, settled):
    assert _rotate(api, settled).status_code == 202
    assert _rotate(api, settled).status_code == 409
    assert len(rpc.casts) == 2


def test_who_may_rotate(api, rpc, settled):
    assert _rotate(api, settled, READER_A).status_code == 403
    assert _rotate(api, settled, PROJECT_B).status_code == 404
    assert _rotate(api, 'no-such-cluster').status_code == 404
    assert _rotate(api, settled, ADMIN).status_code == 202


def test_noauth_hands_no_token_over(api, rpc, settled):
    _rotate(api, settled, _h(PROJECT_A, {'X-Auth-Token': 'not-keystone'}))
    assert rpc.casts[-1]['params'] == {}


TOKEN = 'gAAAAA-user-token-of-alice-0123456789'


@pytest.fixture
def keystone_mode(api, monkeypatch):
    monkeypatch.setattr(auth_token, 'AuthProtocol', fake_auth_token({
        TOKEN: {'project': 'project-a', 'user': 'alice',
                'roles': 'member,reader'}}))
    CONF.set_override('auth_strategy', 'keystone')
    yield
    CONF.clear_override('auth_strategy')


def test_the_callers_token_reaches_the_conductor_sealed(keystone_mode,
                                                        rpc, database, cloud,
                                                        drivers):
    from caas.api import app as api_app
    from .conftest import Api
    from .conftest import template_body
    kapi = Api(api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                                 find_driver=drivers))
    auth = {'X-Auth-Token': TOKEN}
    tpl = kapi.post('/v1/clustertemplates', template_body(), headers=auth)
    assert tpl.status_code == 201, tpl.json_body
    created = kapi.post('/v1/clusters', {
        'name': 'c1', 'cluster_template_id': tpl.json_body['uuid']},
        headers=auth)
    assert created.status_code == 202, created.json_body
    uuid = created.json_body['uuid']
    settle(uuid)
    resp = kapi.patch('/v1/credentials/%s' % uuid, headers=_h(auth, V112))
    assert resp.status_code == 202, resp.json_body
    assert TOKEN.encode() not in resp.data
    for cast in rpc.casts:          # the create's and the rotation's
        sealed = cast['params'][identity.TOKEN_PARAM]
        assert TOKEN not in repr(cast['params'])
        assert identity.unseal_token(sealed, uuid) == TOKEN
