"""Heat's user_data_update_policy in the simulated cloud: new user data
replaces the server under REPLACE (the default), is only kept under
IGNORE (a server created later boots with it), and the policy an update
sends is the one that counts."""

import time

import pytest

from caas.sim import state as st
from caas.sim import stacks

TEMPLATE = """
heat_template_version: 2021-04-16
parameters:
  secret: {type: string, default: one}
  image: {type: string, default: ubuntu-jammy}
  policy: {type: string, default: REPLACE}
resources:
  port:
    type: OS::Neutron::Port
    properties: {network: private}
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      flavor: m1.small
      networks: [{port: {get_resource: port}}]
      user_data_format: RAW
      user_data_update_policy: {get_param: policy}
      user_data:
        str_replace:
          template: "#!/bin/sh\\necho SECRET > /etc/secret"
          params: {SECRET: {get_param: secret}}
outputs:
  id: {value: {get_resource: server}}
"""


@pytest.fixture
def cloud():
    return st.Cloud(server_boot_delay=0.05, resource_delay=0.0,
                    delete_delay=0.0)


def _settle(cloud, stack):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        with cloud.lock:
            status, reason = stacks.stack_status(cloud, stack)
        if not status.endswith('IN_PROGRESS'):
            assert status.endswith('COMPLETE'), reason
            return
        time.sleep(0.02)
    raise AssertionError('stack still %s' % status)


def _create(cloud, **params):
    with cloud.lock:
        stack = stacks.create_stack(cloud, 'ud', 'p', 'u', TEMPLATE, params)
    _settle(cloud, stack)
    return stack


def _update(cloud, stack, **params):
    with cloud.lock:
        stacks.update_stack(cloud, stack, params=params, existing=True)
    _settle(cloud, stack)


def _server(cloud, stack):
    with cloud.lock:
        server_id = stacks.output_value(cloud, stack, 'id')
        return server_id, cloud.data['servers'][server_id]['user_data']


def test_new_user_data_replaces_the_server_by_default(cloud):
    stack = _create(cloud)
    before, _ = _server(cloud, stack)
    _update(cloud, stack, secret='two')
    after, user_data = _server(cloud, stack)
    assert after != before
    assert 'two' in user_data


def test_with_ignore_the_server_stays_and_heat_keeps_the_new_user_data(
        cloud):
    stack = _create(cloud)
    before, booted = _server(cloud, stack)
    _update(cloud, stack, secret='two', policy='IGNORE')
    after, user_data = _server(cloud, stack)
    assert after == before and user_data == booted
    assert 'echo one' in user_data
    with cloud.lock:
        kept = stack['resources']['server']['props']['user_data']
    assert 'echo two' in kept
    # A new image replaces it: the new server boots with what Heat kept.
    _update(cloud, stack, image='fedora-coreos')
    replaced, user_data = _server(cloud, stack)
    assert replaced != before
    assert 'echo two' in user_data


def test_the_policy_the_update_sends_counts(cloud):
    stack = _create(cloud, policy='IGNORE')
    before, _ = _server(cloud, stack)
    # Back to REPLACE with new user data in the same update: replaced.
    _update(cloud, stack, secret='three', policy='REPLACE')
    after, user_data = _server(cloud, stack)
    assert after != before and 'echo three' in user_data
