"""``caas-all --real-nodes`` refuses, with a message and an exit status and
never a traceback, when what real nodes need is missing: run as a real
non-root user, with a PATH that lacks a tool, with a base that lacks
cloud-init, and with a build that fails (a mirror that does not answer).
Each is the real command in a process of its own, before it listens."""

import os
import shutil
import subprocess
import sys

import pytest

from caas.sim.realnodes import base as base_mod

CAAS_ALL = os.path.join(os.path.dirname(sys.executable), 'caas-all')
# What caas-all and the build script call, without the one left out.
TOOLS = ('bash', 'sh', 'dirname', 'ip', 'nsenter', 'unshare', 'mount',
         'chroot', 'nft', 'debootstrap')
root_only = pytest.mark.skipif(os.geteuid() != 0, reason='needs root')


def caas_all(tmp_path, *args, env=None, config=None, user=None):
    cmd = [CAAS_ALL, '--real-nodes', '--data-dir', str(tmp_path / 'data'),
           '--port', '0', '--sim-port', '0']
    if config is not None:
        conf = tmp_path / 'caas.conf'
        conf.write_text(config)
        cmd += ['--config-file', str(conf)]
    if user is not None:
        cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user,
               '--clear-groups'] + cmd
    result = subprocess.run(
        cmd + list(args), capture_output=True, text=True, timeout=120,
        env=dict(os.environ if env is None else env,
                 PYTHONWARNINGS='ignore'))
    # It stopped before it listened or wrote anything.
    assert not (tmp_path / 'data').exists()
    assert 'Traceback' not in result.stderr
    return result


def path_without(tmp_path, missing):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if tool != missing and found:
            os.symlink(found, str(bin_dir / tool))
    return dict(os.environ, PATH=str(bin_dir))


def missing_lines(stderr):
    return [line.strip()[2:] for line in stderr.splitlines()
            if line.startswith('  - ')]


@root_only
def test_a_user_that_is_not_root_is_refused(tmp_path):
    result = caas_all(tmp_path, user=65534)
    assert result.returncode == 2
    assert 'caas-all: no real nodes: %s' % base_mod.NEEDS in result.stderr
    assert missing_lines(result.stderr) == [
        'root (namespaces, mounts, cgroups; this is uid 65534)']


@root_only
@pytest.mark.parametrize('tool,package', [('nsenter', 'util-linux'),
                                          ('ip', 'iproute2')])
def test_a_missing_tool_is_named_with_its_package(tmp_path, tool, package):
    result = caas_all(tmp_path, env=path_without(tmp_path, tool))
    assert result.returncode == 2
    assert missing_lines(result.stderr) == [
        '%s (Debian package %s)' % (tool, package)]


@root_only
def test_a_base_without_cloud_init_is_refused(tmp_path):
    base = tmp_path / 'base'
    for name, _package in base_mod.BASE_FILES:
        if 'cloud-init' not in name:
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            (base / name).write_text('')
    (base / base_mod.STAMP).write_text('version=1\n')
    result = caas_all(tmp_path, config='[sim]\nreal_nodes = %s\n' % base)
    assert result.returncode == 2
    assert missing_lines(result.stderr) == [
        'usr/bin/cloud-init in the base %s (cloud-init): remove the base '
        'to rebuild it' % base]


@root_only
def test_building_without_debootstrap_is_refused(tmp_path):
    base = tmp_path / 'base'
    result = caas_all(tmp_path, config='[sim]\nreal_nodes = %s\n' % base,
                      env=path_without(tmp_path, 'debootstrap'))
    assert result.returncode == 2
    assert missing_lines(result.stderr) == [
        'debootstrap (Debian package debootstrap) to build the base root '
        'filesystem %s' % base]
    assert not base.exists()


@root_only
@pytest.mark.skipif(shutil.which('debootstrap') is None,
                    reason='needs debootstrap')
def test_a_failed_build_says_why_and_leaves_nothing(tmp_path):
    base = tmp_path / 'base'
    env = dict(os.environ, CAAS_NODE_CACHE=str(tmp_path / 'cache'),
               # Nothing listens there: debootstrap fails at once.
               CAAS_DEBIAN_MIRROR='http://127.0.0.1:9/debian')
    result = caas_all(tmp_path, config='[sim]\nreal_nodes = %s\n' % base,
                      env=env)
    assert result.returncode == 1
    assert 'caas-all: building the base root filesystem of real nodes in ' \
           '%s' % base in result.stderr
    assert "building the real nodes' base:   0% (step 1/3, debootstrap " \
           "bookworm minbase)" in result.stderr
    assert 'caas-all: no real nodes: building the base root filesystem %s ' \
           'failed (exit 1)' % base in result.stderr
    assert 'E: Failed getting release file http://127.0.0.1:9/debian/' \
           'dists/bookworm/Release' in result.stderr
    # No half-built tree: only the (empty) package cache is left.
    assert sorted(os.listdir(str(tmp_path))) == ['caas.conf', 'cache']
