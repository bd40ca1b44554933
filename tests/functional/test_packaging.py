"""An installed (non-editable) caas finds its data files: RPC schemas,
driver templates, migrations and the real nodes' base build script ship
inside the wheel."""

import os
import subprocess
import sys
import textwrap

from alembic import script

import rpc_schemas
from tests.integration.deployment import ROOT

CHECK = textwrap.dedent('''
    import os, sys
    import caas, rpc_schemas
    assert caas.__file__.startswith(sys.argv[1]), caas.__file__
    assert rpc_schemas.__file__.startswith(sys.argv[1])
    for m in rpc_schemas.methods():
        rpc_schemas.load(m)
    print('schemas', ','.join(rpc_schemas.methods()))
    from caas import drivers
    d = drivers.find_driver('vm', 'ubuntu', 'kubernetes')
    cluster = {'uuid': '0d7c3a55-8a8e-4f7c-bb9e-0c2b1d5c1f00', 'name': 'c',
               'node_count': 1, 'master_count': 1, 'labels': {},
               'keypair': 'default', 'flavor_id': 'm1.small',
               'master_flavor_id': 'm1.small'}
    template = {'coe': 'kubernetes', 'image_id': 'ubuntu-jammy',
                'cluster_distro': 'ubuntu', 'external_network_id': 'public',
                'labels': {}, 'server_type': 'vm'}
    ngs = [{'name': 'default-master', 'role': 'master', 'node_count': 1,
            'flavor_id': 'm1.small', 'image_id': 'ubuntu-jammy', 'labels': {}},
           {'name': 'default-worker', 'role': 'worker', 'node_count': 1,
            'flavor_id': 'm1.small', 'image_id': 'ubuntu-jammy', 'labels': {}}]
    definition = d.stack_definition(cluster, template, ngs)
    print('files', ','.join(sorted(definition['files'])))
    from caas.api import dashboard
    assert dashboard.STATIC_DIR.startswith(sys.argv[1]), dashboard.STATIC_DIR
    print('dashboard', ','.join(sorted(os.listdir(dashboard.STATIC_DIR))))
    from caas.sim.realnodes import base
    assert base.SCRIPT.startswith(sys.argv[1]), base.SCRIPT
    print('rootfs', ','.join(sorted(os.listdir(os.path.dirname(
        base.SCRIPT)))), base.default_path())
''')


def test_wheel_carries_schemas_templates_and_migrations(tmp_path):
    dist = tmp_path / 'dist'
    target = tmp_path / 'site'
    # No build isolation: the build uses this venv's pbr, setuptools and
    # wheel, so the test needs no network.
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(dist), ROOT],
                   check=True, capture_output=True)
    wheel = next(dist.glob('caas-*.whl'))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',
                    '--no-deps', '--target', str(target), str(wheel)],
                   check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(target), PYTHONWARNINGS='ignore')
    out = subprocess.run([sys.executable, '-c', CHECK, str(target)], env=env,
                         cwd=str(tmp_path), check=True, capture_output=True,
                         text=True).stdout
    assert 'schemas %s' % ','.join(rpc_schemas.methods()) in out
    assert 'kubemaster.yaml' in out
    assert 'dashboard dashboard.css,dashboard.js,index.html' in out
    # caas-all --real-nodes builds the nodes' base from an installed copy.
    assert 'rootfs build-node-rootfs.sh,systemctl /var/cache/caas-ci/' \
           'node-rootfs-' in out
    db = tmp_path / 'caas.sqlite'
    conf = tmp_path / 'caas.conf'
    conf.write_text('[database]\nconnection = sqlite:///%s\n' % db)
    out = subprocess.run(
        [sys.executable, '-m', 'caas.cmd.manage', '--config-file', str(conf),
         'db', 'upgrade'], env=env, cwd=str(tmp_path), check=True,
        capture_output=True, text=True).stdout
    # Every migration shipped: the installed copy reaches the tree's head.
    head = script.ScriptDirectory(os.path.join(
        ROOT, 'caas', 'db', 'sqlalchemy', 'alembic')).get_current_head()
    assert 'revision %s\n' % head in out
