"""A rendered Swarm-mode template set pinned, so that a change to what the
driver sends Heat shows up in review as a diff of this file.

Regenerate after an intended change with::

    CAAS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/drivers/test_swarm_golden.py
"""

import os

import yaml

from caas.drivers.swarm import driver as swarm

from . import test_swarm as swarm_test

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden',
                      'swarm_ubuntu_vm_3_managers_lb.yaml')


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (user data) as literal blocks: a diff reads as
    the script's own lines."""


def _str(dumper, text):
    style = '|' if '\n' in text and not text.endswith(' ') else None
    return dumper.represent_scalar('tag:yaml.org,2002:str', text,
                                   style=style)


_Dumper.add_representer(str, _str)


def rendered():
    defn = swarm_test.definition(swarm.UbuntuSwarmDriver,
                                 'three managers behind a load balancer')
    return yaml.dump({
        'parameters': defn['parameters'],
        'template': defn['template'],
        'files': {name: yaml.safe_load(text)
                  for name, text in sorted(defn['files'].items())},
    }, Dumper=_Dumper, sort_keys=True, width=79)


def test_rendered_template_matches_the_golden_file():
    text = rendered()
    if os.environ.get('CAAS_UPDATE_GOLDEN'):
        with open(GOLDEN, 'w') as f:
            f.write(text)
    with open(GOLDEN) as f:
        assert text == f.read(), (
            'The rendered Swarm template changed; review the diff and '
            'regenerate %s (see this module\'s docstring).' % GOLDEN)


def test_golden_file_lists_the_resources_of_a_three_manager_cluster():
    with open(GOLDEN) as f:
        pinned = yaml.safe_load(f)
    assert sorted(pinned['template']['resources']) == [
        'api_lb', 'api_lb_floating_ip', 'api_listener', 'api_monitor',
        'api_pool', 'manager_server_group', 'network', 'primary_tokens_handle',
        'primary_tokens_wait', 'router', 'router_interface', 'secgroup_api',
        'secgroup_cluster', 'subnet', 'swarm_join', 'swarm_nodes',
        'swarm_primary', 'swarm_secondary_masters', 'worker_server_group']
