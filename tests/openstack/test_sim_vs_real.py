"""The simulated Heat against the real one: the same templates on both.

The fake driver's template (the one every flow test runs on the simulated
cloud) goes through create, update and delete on caas's simulated cloud
and on the real Heat 27; the resources, the outputs' shape and the stack's
status transitions (its own events) must be the same, and so must the
error body of each template both refuse.

Differences found and fixed in caas/sim by this comparison (with unit
tests in tests/unit/sim): a template version Heat does not know was
accepted; events were listed oldest first (Heat: newest first) and lost
the outcome of every action but the last. Left as they are (caas reads
neither): the detail of two refusal messages (Heat says where in the
resource an unknown reference is, and its property errors carry empty
path parts), and a deleted stack, which the real Heat still shows by id as
DELETE_COMPLETE while the simulated one answers 404 - caas's find_stack
takes both as gone.
"""

import time
import uuid

import pytest
from heatclient import client as heat_client
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from caas.drivers.fake import driver as fake
from caas.sim.server import SimServer

pytestmark = pytest.mark.openstack

ORCHESTRATION = {'service_type': 'orchestration', 'interface': 'public'}


@pytest.fixture(scope='module')
def clouds(openstack):
    srv = SimServer(port=0, resource_delay=0.2).start()
    sim = ks_session.Session(auth=v3.Password(
        auth_url=srv.auth_url, username='caas', password='caas',
        project_name='service', user_domain_name='Default',
        project_domain_name='Default'))
    real = ks_session.Session(auth=v3.Password(
        auth_url=openstack['CAAS_OSTACK_AUTH_URL'], username='alpha-member',
        password=openstack['CAAS_OSTACK_PASSWORD'], project_name='alpha',
        user_domain_name='Default', project_domain_name='Default'))
    yield {'sim': sim, 'real': real}
    srv.stop()


def _heat(session):
    return heat_client.Client('1', session=session)


def _settle(heat, stack_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        stack = heat.stacks.get(stack_id)
        if not stack.stack_status.endswith('IN_PROGRESS'):
            return stack
        assert time.monotonic() < deadline, stack.stack_status
        time.sleep(0.3)


def _shape(value):
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _own_events(heat, stack):
    return [e.resource_status for e in heat.events.list(stack.id)
            if e.resource_name == stack.stack_name]


def _life(session):
    """What one create, update and delete of the fake template shows."""
    heat = _heat(session)
    name = 'cmp-%s' % uuid.uuid4().hex[:8]
    stack_id = heat.stacks.create(
        stack_name=name, template=fake.TEMPLATE,
        parameters={'number_of_masters': 1,
                    'number_of_minions': 2})['stack']['id']
    created = _settle(heat, stack_id)
    seen = {
        'created': created.stack_status,
        'resources': sorted((r.resource_name, r.resource_type,
                             r.resource_status)
                            for r in heat.resources.list(stack_id)),
        'outputs': {o['output_key']: _shape(o['output_value'])
                    for o in created.to_dict()['outputs']},
        'minions': {o['output_key']: o['output_value']
                    for o in created.to_dict()['outputs']}['kube_minions'],
        'create events': _own_events(heat, created),
    }
    heat.stacks.update(stack_id, existing=True,
                       parameters={'number_of_minions': 3})
    updated = _settle(heat, stack_id)
    seen['updated'] = updated.stack_status
    seen['update events'] = _own_events(heat, updated)
    seen['resized'] = {o['output_key']: o['output_value'] for o in
                       updated.to_dict()['outputs']}['kube_minions']
    heat.stacks.delete(stack_id)
    deadline = time.monotonic() + 120
    while True:
        stacks = [s for s in heat.stacks.list() if s.id == stack_id]
        if not stacks:
            break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return seen


def test_a_stacks_life_is_the_same_on_both(clouds):
    sim, real = _life(clouds['sim']), _life(clouds['real'])
    assert sim == real
    # What the comparison rests on, spelt out.
    assert real['resources'] == [
        ('masters', 'OS::Heat::ResourceGroup', 'CREATE_COMPLETE'),
        ('minions', 'OS::Heat::ResourceGroup', 'CREATE_COMPLETE')]
    assert real['create events'] == ['CREATE_COMPLETE', 'CREATE_IN_PROGRESS']
    assert real['update events'] == ['UPDATE_COMPLETE', 'UPDATE_IN_PROGRESS',
                                     'CREATE_COMPLETE', 'CREATE_IN_PROGRESS']
    assert len(real['resized']) == 3


REFUSED = {
    'unknown type': ({'resources': {'x': {'type': 'OS::No::Such'}}}, True),
    'missing parameter': ({
        'parameters': {'p': {'type': 'string'}},
        'resources': {'x': {'type': 'OS::Heat::Value',
                            'properties': {'value': {'get_param': 'p'}}}}},
        True),
    'unknown version': ({'heat_template_version': '1999-01-01'}, True),
    'unknown property': ({'resources': {'x': {
        'type': 'OS::Heat::Value', 'properties': {'nope': 1}}}}, False),
    'unknown reference': ({'resources': {'x': {
        'type': 'OS::Heat::Value',
        'properties': {'value': {'get_attr': ['nope', 'value']}}}}}, False),
}


@pytest.mark.parametrize('case', sorted(REFUSED))
def test_a_template_both_refuse_gets_the_same_error_body(clouds, case):
    body, same_message = REFUSED[case]
    template = dict({'heat_template_version': '2021-04-16'}, **body)
    answers = {}
    for name, session in clouds.items():
        resp = session.post('/stacks', json={
            'stack_name': 'refused-%s' % uuid.uuid4().hex[:8],
            'template': template}, endpoint_filter=ORCHESTRATION,
            raise_exc=False)
        doc = resp.json()
        error = doc.pop('error')
        answers[name] = (resp.status_code, doc, error['type'],
                         error['message'] if same_message else None)
    assert answers['sim'] == answers['real']
    assert answers['real'][0] == 400
