"""The real ``openstack coe`` CLI (python-openstackclient +
python-magnumclient, run as a process) against the embedded caas-all:
stats, quotas, service list and the template list's ``--fields``."""

import pytest

from tests.functional.test_cluster_config import cli
from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


def _table(text):
    """The rows of a prettytable printed by the CLI, as lists of cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith('|'):
            rows.append([cell.strip() for cell in line.strip('|').split('|')])
    return rows


def _fields(text):
    """``print_dict`` output as {field: value}."""
    return {row[0]: row[1] for row in _table(text)[1:]}


def test_stats_list(aio, mc):
    make_template(mc)
    c = mc.clusters.create(name='s', cluster_template_id='k8s',
                           master_count=1, node_count=2)
    wait_status(mc, c.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)
    # Without a token's project, noauth callers are the "admin" project.
    out = _fields(cli(aio, 'stats', 'list', 'admin').stdout)
    assert out == {'clusters': '1', 'nodes': '3'}
    out = _fields(cli(aio, 'stats', 'list', 'someone-else').stdout)
    assert out == {'clusters': '0', 'nodes': '0'}


def test_quotas_create_list_show_update_delete(aio, mc):
    proc = cli(aio, 'quotas', 'create', '--project-id', 'proj-1',
               '--resource', 'Cluster', '--hard-limit', '1')
    assert 'proj-1' in proc.stdout
    cli(aio, 'quotas', 'create', '--project-id', 'admin', '--resource',
        'Cluster', '--hard-limit', '1')
    rows = _table(cli(aio, 'quotas', 'list', '--all-tenants').stdout)
    assert rows[0] == ['project_id', 'resource', 'hard_limit']
    assert sorted(rows[1:]) == [['admin', 'Cluster', '1'],
                                ['proj-1', 'Cluster', '1']]
    # Without --all-tenants: the caller's project only.
    rows = _table(cli(aio, 'quotas', 'list').stdout)
    assert rows[1:] == [['admin', 'Cluster', '1']]
    shown = _fields(cli(aio, 'quotas', 'show', '--project-id', 'proj-1',
                        '--resource', 'Cluster').stdout)
    assert shown['hard_limit'] == '1' and shown['project_id'] == 'proj-1'
    cli(aio, 'quotas', 'update', '--project-id', 'proj-1', '--resource',
        'Cluster', '--hard-limit', '5')
    shown = _fields(cli(aio, 'quotas', 'show', '--project-id', 'proj-1',
                        '--resource', 'Cluster').stdout)
    assert shown['hard_limit'] == '5'
    # The quota is enforced: the admin project may hold one cluster.
    make_template(mc)
    mc.clusters.create(name='q1', cluster_template_id='k8s', node_count=1)
    proc = cli(aio, 'cluster', 'create', '--cluster-template', 'k8s', 'q2',
               check=False)
    assert proc.returncode != 0
    assert 'Quota exceeded for project admin' in proc.stderr
    cli(aio, 'quotas', 'delete', '--project-id', 'proj-1', '--resource',
        'Cluster')
    rows = _table(cli(aio, 'quotas', 'list', '--all-tenants').stdout)
    assert rows[1:] == [['admin', 'Cluster', '1']]
    # Deleted: show falls back to the default.
    shown = _fields(cli(aio, 'quotas', 'show', '--project-id', 'proj-1',
                        '--resource', 'Cluster').stdout)
    assert shown['hard_limit'] == '20'


def test_service_list_shows_a_magnum_conductor(aio):
    rows = _table(cli(aio, 'service', 'list').stdout)
    header, services = rows[0], rows[1:]
    assert len(services) == 1
    service = dict(zip(header, services[0]))
    assert service['binary'] == 'magnum-conductor'
    assert service['id'] == '1'
    assert service['state'] == 'up'


@pytest.mark.parametrize('fields', ['coe,image_id', 'coe,image_id,keypair_id'])
def test_template_list_fields_show_values(aio, mc, fields):
    make_template(mc)
    rows = _table(cli(aio, 'cluster', 'template', 'list',
                      '--fields', fields).stdout)
    assert rows[0] == ['uuid', 'name', 'tags'] + fields.split(',')
    row = dict(zip(rows[0], rows[1]))
    assert row['coe'] == 'kubernetes'
    assert row['image_id'] == 'ubuntu-jammy'
    assert all(row[f] not in ('', 'None') for f in fields.split(','))


def test_cluster_health_update_as_an_auto_healer_sends_it(aio, mc):
    make_template(mc)
    c = mc.clusters.create(name='h', cluster_template_id='k8s', node_count=1)
    wait_status(mc, c.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)
    mc.clusters.update('h', [
        {'op': 'replace', 'path': '/health_status', 'value': 'UNHEALTHY'},
        {'op': 'replace', 'path': '/health_status_reason',
         'value': {'api': 'down'}}])
    shown = mc.clusters.get('h')
    assert shown.health_status == 'UNHEALTHY'
    assert shown.health_status_reason == {'api': 'down'}
    assert shown.status == 'CREATE_COMPLETE'
