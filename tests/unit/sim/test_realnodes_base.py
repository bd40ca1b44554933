"""What real nodes need, how the base's build shows its progress, and the
floating IP range a real-node cloud holds (caas.sim.realnodes.base,
caas.sim.realnodes.fiprange). The machine's facts are arguments, so every
refusal is tried here on a machine that has everything."""

import io
import ipaddress
import os

import pytest

from caas.sim import stacks
from caas.sim import state as st
from caas.sim.realnodes import base
from caas.sim.realnodes import fiprange

TOOLS = ('ip', 'nsenter', 'unshare', 'mount', 'chroot', 'nft', 'debootstrap')


@pytest.fixture
def path_without(tmp_path):
    """A PATH holding the named tools but one."""
    def make(missing):
        bin_dir = tmp_path / ('bin-no-%s' % missing)
        bin_dir.mkdir(exist_ok=True)
        for tool in TOOLS:
            if tool != missing:
                script = bin_dir / tool
                script.write_text('#!/bin/sh\n')
                script.chmod(0o755)
        return str(bin_dir)
    return make


@pytest.fixture
def stamped(tmp_path):
    root = tmp_path / 'base'
    for name, _pkg in base.BASE_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text('')
    (root / base.STAMP).write_text('version=1\n')
    return root


def test_everything_present_needs_nothing(stamped, path_without):
    assert base.requirements(str(stamped), system='Linux', euid=0,
                             path=path_without('none')) == []


def test_other_systems_are_refused_by_name(stamped):
    assert base.requirements(str(stamped), system='Darwin', euid=0) == [
        'Linux (this is Darwin)']


def test_not_root_is_named(stamped, path_without):
    missing = base.requirements(str(stamped), system='Linux', euid=1000,
                                path=path_without('none'))
    assert missing == ['root (namespaces, mounts, cgroups; this is uid '
                       '1000)']


@pytest.mark.parametrize('tool,package', [
    ('ip', 'iproute2'), ('nsenter', 'util-linux'),
    ('unshare', 'util-linux'), ('nft', 'nftables')])
def test_a_missing_host_tool_is_named_with_its_package(
        stamped, path_without, tool, package):
    missing = base.requirements(str(stamped), system='Linux', euid=0,
                                path=path_without(tool))
    assert missing == ['%s (Debian package %s)' % (tool, package)]


def test_a_base_without_cloud_init_is_refused(stamped, path_without):
    os.unlink(str(stamped / 'usr/bin/cloud-init'))
    missing = base.requirements(str(stamped), system='Linux', euid=0,
                                path=path_without('none'))
    assert len(missing) == 1
    assert 'usr/bin/cloud-init' in missing[0] and 'cloud-init)' in missing[0]


def test_an_unbuilt_base_says_how_to_build_it(tmp_path, path_without):
    missing = base.requirements(str(tmp_path / 'none'), system='Linux',
                                euid=0, path=path_without('none'))
    assert len(missing) == 1
    assert 'caas-all --real-nodes' in missing[0]
    # Allowed to build: only debootstrap counts, and it is there.
    assert base.requirements(str(tmp_path / 'none'), build=True,
                             system='Linux', euid=0,
                             path=path_without('none')) == []


def test_building_without_debootstrap_is_refused(tmp_path, path_without):
    missing = base.requirements(str(tmp_path / 'none'), build=True,
                                system='Linux', euid=0,
                                path=path_without('debootstrap'))
    assert missing == ['debootstrap (Debian package debootstrap) to build '
                       'the base root filesystem %s' % (tmp_path / 'none')]


def test_check_lists_every_missing_thing_after_what_is_needed(
        tmp_path, path_without):
    with pytest.raises(base.Unavailable) as err:
        base.check(str(tmp_path / 'none'), build=True, system='Linux',
                   euid=1000, path=path_without('debootstrap'))
    text = str(err.value)
    assert text.startswith(base.NEEDS)
    assert 'root (' in text and 'debootstrap (' in text


def test_default_base_is_the_shipped_scripts_cache():
    assert base.SCRIPT.endswith('caas/sim/realnodes/rootfs/'
                                'build-node-rootfs.sh')
    assert os.path.exists(os.path.join(os.path.dirname(base.SCRIPT),
                                       'systemctl'))
    assert base.default_path().startswith('/var/cache/caas-ci/node-rootfs-')
    assert base.resolve('auto') == base.default_path()
    assert base.resolve('/x') == '/x'


# What the build prints with CAAS_BUILD_PROGRESS=1 (abridged).
TRANSCRIPT = '''\
05:10:01 build-node-rootfs: step 1/3: debootstrap bookworm minbase from http://deb.debian.org/debian into /var/cache/caas-ci/.node-rootfs-1.x
I: Retrieving InRelease
I: Retrieving libacl1 2.3.1-3
I: Validating libacl1 2.3.1-3
I: Retrieving adduser 3.134
I: Extracting libacl1...
I: Unpacking libacl1:amd64...
I: Configuring libacl1:amd64...
I: Base system installed successfully.
05:11:30 build-node-rootfs: step 2/3: installing docker.io containerd
dlstatus:1:0.0000:Retrieving file 1 of 80
dlstatus:40:50.0000:Retrieving file 40 of 80
pmstatus:dpkg-exec:0.0000:Running dpkg
pmstatus:docker.io:80.0000:Installing docker.io (amd64)
05:13:00 build-node-rootfs: step 3/3: configuring the node image
'''


def test_progress_rises_step_by_step_on_a_terminal():
    out = io.StringIO()
    progress = base.Progress(out, tty=True)
    seen = []
    for line in TRANSCRIPT.splitlines():
        progress.feed(line)
        seen.append(progress.percent)
    assert seen == sorted(seen)
    assert seen[0] == 0 and seen[-1] == 95
    # Downloads half of step 2, dpkg the other half: 80 % of dpkg is 90 %.
    assert seen[-2] == 45 + int(50 * 0.9)
    text = out.getvalue()
    assert '\r[' in text and '\n' not in text
    assert '2/3 installing Docker, cloud-init and tools: Installing ' \
           'docker.io' in text
    progress.done('built')
    assert out.getvalue().endswith('built\n')


def test_progress_in_a_log_is_a_line_per_tenth_of_a_step():
    out = io.StringIO()
    progress = base.Progress(out, tty=False)
    for line in TRANSCRIPT.splitlines():
        progress.feed(line)
    lines = out.getvalue().splitlines()
    assert '\r' not in out.getvalue()
    assert lines[0].startswith("building the real nodes' base:   0% (step "
                               "1/3, debootstrap bookworm minbase)")
    assert lines[-1].startswith("building the real nodes' base:  95% (step "
                                "3/3")
    assert len(lines) < len(TRANSCRIPT.splitlines())
    assert list(progress.tail)[-1].endswith('configuring the node image')


# Floating IP ranges ------------------------------------------------------
def test_two_clouds_hold_different_ranges(tmp_path):
    one = fiprange.reserve('/data/one', lock_dir=str(tmp_path))
    two = fiprange.reserve('/data/two', lock_dir=str(tmp_path))
    assert one.network != two.network
    for held in (one, two):
        assert held.network.subnet_of(fiprange.POOL)
        assert held.network.prefixlen == 24
    one.release()
    two.release()


def test_a_held_slot_sends_the_next_cloud_to_the_next_one(tmp_path):
    first = fiprange.reserve('/data/same', lock_dir=str(tmp_path))
    second = fiprange.reserve('/data/same', lock_dir=str(tmp_path))
    assert int(second.network.network_address) == \
        int(first.network.network_address) + 256
    first.release()
    # Released (as a dead process's lock is): the slot is free again.
    again = fiprange.reserve('/data/same', lock_dir=str(tmp_path))
    assert again.network == first.network
    second.release()
    again.release()


def test_a_recorded_range_held_elsewhere_is_refused_naming_the_holder(
        tmp_path):
    held = fiprange.reserve('/a', owner='/data/a', lock_dir=str(tmp_path))
    with pytest.raises(base.Unavailable) as err:
        fiprange.reserve('/b', recorded=str(held.network),
                         lock_dir=str(tmp_path))
    assert 'is held by another cloud' in str(err.value)
    assert '%d /data/a' % os.getpid() in str(err.value)
    held.release()


@pytest.mark.parametrize('configured', ['10.0.0.0/24', '127.1.2.3/31',
                                        'not-a-network'])
def test_a_range_off_loopback_or_too_small_is_refused(tmp_path, configured):
    with pytest.raises(base.Unavailable) as err:
        fiprange.reserve('/a', configured=configured,
                         lock_dir=str(tmp_path))
    assert configured in str(err.value)


def test_lock_is_not_inherited_by_child_processes(tmp_path):
    import subprocess
    import sys
    held = fiprange.reserve('/a', lock_dir=str(tmp_path))
    child = subprocess.Popen([sys.executable, '-c',
                              'import time; time.sleep(30)'])
    try:
        held.release()
        # The child (as a node outliving its cloud would) holds nothing.
        again = fiprange.reserve('/a', lock_dir=str(tmp_path))
        assert again.network == held.network
        again.release()
    finally:
        child.kill()
        child.wait()


def _fip_stack(count):
    return {'heat_template_version': '2021-04-16', 'resources': {
        'fip%d' % i: {'type': 'OS::Neutron::FloatingIP', 'properties': {
            'floating_network': 'public'}} for i in range(count)}}


def test_floating_ips_come_from_the_cloud_range_skipping_used_ones():
    cloud = st.Cloud(resource_delay=0.0)
    cloud.floating_range = ipaddress.ip_network('127.64.9.0/29')
    with cloud.lock:
        first = [cloud.create_floating_ip('p')['address'] for _ in range(3)]
    assert first == ['127.64.9.2', '127.64.9.3', '127.64.9.4']
    with cloud.lock:
        cloud.data['floating_ips'].pop(next(
            f['id'] for f in cloud.data['floating_ips'].values()
            if f['address'] == '127.64.9.3'))
        more = [cloud.create_floating_ip('p')['address'] for _ in range(3)]
    # Up to the last host (.7 is the broadcast address), then round to
    # the freed .3.
    assert more == ['127.64.9.5', '127.64.9.6', '127.64.9.3']
    with cloud.lock:
        with pytest.raises(ValueError):
            cloud.create_floating_ip('p')


def test_an_exhausted_range_fails_the_stack_as_neutron_would():
    cloud = st.Cloud(resource_delay=0.0)
    cloud.floating_range = ipaddress.ip_network('127.64.9.0/30')
    with cloud.lock:
        stack = stacks.create_stack(cloud, 'fips', st.PROJECTS['demo'],
                                    st.USERS['demo'][0], _fip_stack(2))
        status, reason = stacks.stack_status(cloud, stack)
    assert status == 'CREATE_FAILED'
    assert 'IpAddressGenerationFailureClient' in reason
    assert 'No more IP addresses available' in reason


def test_a_simulated_cloud_takes_floating_ips_from_the_configured_range():
    from caas.sim import server as sim_server
    server = sim_server.SimServer(floating_ip_range='127.70.1.0/24')
    with server.cloud.lock:
        fip = server.cloud.create_floating_ip('p')
    assert fip['address'] == '127.70.1.2'
