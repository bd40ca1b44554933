"""One real node: its files, its first boot and its end.

A node's directory holds the overlay's upper and work directories over the
shared base root filesystem, Docker's and containerd's data (bind-mounted
into the node: overlay2 cannot sit on an overlay) and the boot log. The
node's processes run in its network namespace and in a private mount and
UTS namespace made by ``unshare``; every mount is made there, so none
exists in the root mount namespace and all vanish with the node's last
process. Each process joins the node's cgroup in every cgroup hierarchy
(and Docker, told ``--cgroup-parent``, puts containers below it), which is
how every process of the node is found, by PID, when it is deleted.

The first boot is cloud-init's four stages run in the node from a NoCloud
seed holding the server's user data and metadata, as a config drive would
hold them. Host-wide kernel settings are masked: ``/proc/sys`` is read-only
in the node except ``/proc/sys/net``, which belongs to its namespace.
"""

import json
import os
import shutil
import signal
import subprocess
import time

import yaml

CGROUP_ROOT = '/sys/fs/cgroup'
BOOT_RC = 'run/caas-boot.rc'
BOOT_LOG = 'var/log/caas-boot.log'

# Joins the node's cgroups, then becomes nsenter and unshare: every
# process of the node, these two included, is in its cgroups, where a
# later cloud finds them by PID (adopted or killed) even when the cloud
# that started them died.
_LAUNCHER = r'''
for cgroup in $CGROUPS; do echo $$ > "$cgroup/cgroup.procs" || exit 1; done
exec nsenter "--net=/run/netns/$NETNS" unshare --mount --uts --pid --fork \
    --propagation private -- /bin/sh -c "$1"
'''
# Runs as the first process (PID 1) of the node's PID namespace, already
# in its network namespace and in fresh mount and UTS namespaces; ends as
# tini, which reaps the node's orphans while it lives. When it is killed
# the kernel kills and reaps every other process of the node, so nothing
# is left even as a zombie.
_HOLDER = r'''
set -eu
R=$DIR/root
mount -t overlay overlay \
    -o "lowerdir=$BASE,upperdir=$DIR/upper,workdir=$DIR/work" "$R"
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --bind /proc/sys/net "$R/proc/sys/net"
mount -t sysfs sysfs "$R/sys"
mount --rbind /sys/fs/cgroup "$R/sys/fs/cgroup"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount --bind "$DIR/docker" "$R/var/lib/docker"
mount --bind "$DIR/containerd" "$R/var/lib/containerd"
hostname "$NODE_NAME"
exec chroot "$R" /usr/bin/tini -- /bin/sh -c '
    { cloud-init init --local && cloud-init init &&
      cloud-init modules --mode config &&
      cloud-init modules --mode final; } >>/var/log/caas-boot.log 2>&1
    echo $? > /run/caas-boot.rc
    exec sleep infinity'
'''
NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'


def hierarchies():
    """Every mounted cgroup hierarchy (v1 controllers, named, unified)."""
    out = []
    with open('/proc/self/mounts') as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] in ('cgroup', 'cgroup2') and \
                    fields[1].startswith(CGROUP_ROOT):
                out.append(fields[1])
    return sorted(set(out))


def cgroup_dirs(cgroup):
    return [os.path.join(h, cgroup) for h in hierarchies()]


def cgroup_pids(cgroup):
    """PIDs in the node's cgroups and below (containers), all hierarchies."""
    pids = set()
    for top in cgroup_dirs(cgroup):
        for dirpath, _dirs, files in os.walk(top):
            if 'cgroup.procs' not in files:
                continue
            try:
                with open(os.path.join(dirpath, 'cgroup.procs')) as procs:
                    pids.update(int(x) for x in procs.read().split())
            except OSError:
                continue
    return pids


def user_data_bytes(user_data):
    """What cloud-init reads: Nova's API takes base64, Heat passes text."""
    if user_data is None:
        return b''
    if isinstance(user_data, bytes):
        return user_data
    from caas.sim import userdata
    decoded = userdata._maybe_base64(user_data)
    return (decoded if decoded is not None else user_data).encode('utf-8')


class Node(object):
    """A real node on disk and in the kernel; ``spec`` is what Nova
    knows: id, name, user_data, metadata, public_keys, addresses."""

    def __init__(self, workdir, base, spec, netns_name, cgroup):
        self.spec = spec
        self.base = base
        self.dir = os.path.join(workdir, spec['id'])
        self.netns = netns_name
        self.cgroup = cgroup
        self.pid = None
        # The launcher, when this process started it (else adopted).
        self._proc = None

    @property
    def root(self):
        """The node's root as the root namespace sees it (through one of
        its processes: its mounts exist only in its mount namespace)."""
        mine = os.path.join(self.dir, 'root')
        for pid in sorted(cgroup_pids(self.cgroup)):
            try:
                if os.readlink('/proc/%d/root' % pid) == mine:
                    return '/proc/%d/root' % pid
            except OSError:
                continue
        return mine

    def prepare(self, dockerd_flags):
        upper = os.path.join(self.dir, 'upper')
        for sub in ('upper', 'work', 'root', 'docker', 'containerd'):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        seed = os.path.join(upper, 'var/lib/cloud/seed/nocloud')
        for path in (seed, os.path.join(upper, 'var/lib/docker'),
                     os.path.join(upper, 'var/lib/containerd')):
            os.makedirs(path, exist_ok=True)
        meta = {'instance-id': self.spec['id'],
                'local-hostname': self.spec['name'],
                'public-keys': self.spec.get('public_keys') or [],
                'meta': self.spec.get('metadata') or {}}
        with open(os.path.join(seed, 'meta-data'), 'w') as out:
            yaml.safe_dump(meta, out)
        with open(os.path.join(seed, 'user-data'), 'wb') as out:
            out.write(user_data_bytes(self.spec.get('user_data')))
        os.makedirs(os.path.join(upper, 'etc/caas-node'), exist_ok=True)
        with open(os.path.join(upper, 'etc/caas-node/dockerd.flags'),
                  'w') as out:
            out.write(dockerd_flags + '\n')
        for path in cgroup_dirs(self.cgroup):
            os.makedirs(path, exist_ok=True)
            # A new cpuset cgroup has no CPUs or memory nodes: no process
            # could join it.
            for name in ('cpuset.cpus', 'cpuset.mems'):
                mine = os.path.join(path, name)
                if os.path.exists(mine):
                    with open(os.path.join(os.path.dirname(path),
                                           name)) as parent:
                        value = parent.read().strip()
                    with open(mine, 'w') as out:
                        out.write(value)

    def start(self):
        # CAAS_NODE marks every process of the node (leak checks find
        # them by it as well as by cgroup).
        env = {'PATH': NODE_PATH, 'LANG': 'C.UTF-8', 'HOME': '/root',
               'DIR': self.dir, 'BASE': self.base, 'NETNS': self.netns,
               'NODE_NAME': self.spec['name'], 'CAAS_NODE': self.cgroup,
               'CGROUPS': ' '.join(cgroup_dirs(self.cgroup))}
        log = open(os.path.join(self.dir, 'holder.log'), 'ab')
        try:
            proc = subprocess.Popen(
                ['/bin/sh', '-c', _LAUNCHER, 'caas-node', _HOLDER],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        finally:
            log.close()
        self.pid = proc.pid
        self._proc = proc
        with open(os.path.join(self.dir, 'launcher.pid'), 'w') as out:
            out.write('%d\n' % proc.pid)
        return proc

    def adopt(self):
        """Take over a node a previous cloud started (it died, the node
        did not): True if the node still runs."""
        try:
            with open(os.path.join(self.dir, 'launcher.pid')) as pid_file:
                self.pid = int(pid_file.read().strip())
        except (OSError, ValueError):
            return False
        return self.pid in cgroup_pids(self.cgroup)

    def alive(self):
        if self._proc is not None:
            return self._proc.poll() is None
        return bool(cgroup_pids(self.cgroup))

    def boot_result(self):
        """None while booting; else (exit status, cloud-init errors, the
        tail of the boot log). Raises RuntimeError if the node died."""
        if not self.alive():
            raise RuntimeError('the node exited (%s): %s' % (
                self._proc.returncode if self._proc else 'adopted',
                self._tail('holder.log')))
        try:
            with open(os.path.join(self.root, BOOT_RC)) as rc_file:
                rc = int(rc_file.read().strip() or 1)
        except (OSError, ValueError):
            return None
        errors = []
        try:
            with open(os.path.join(self.root,
                                   'var/lib/cloud/data/result.json')) as res:
                errors = json.load(res).get('v1', {}).get('errors') or []
        except (OSError, ValueError):
            pass
        return rc, errors, self._tail(os.path.join(self.root, BOOT_LOG))

    def _tail(self, path, lines=6):
        path = os.path.join(self.dir, path)
        try:
            with open(path, errors='replace') as log:
                return ' | '.join(log.read().strip().splitlines()[-lines:])
        except OSError:
            return ''

    def stop(self, timeout=20):
        """Kill every process of the node by PID, then remove its cgroups
        and files. Returns the PIDs it had to kill."""
        deadline = time.monotonic() + timeout
        # The launcher (nsenter, then unshare) is in the node's cgroups
        # too; this process reaps it if it started it, else init does.
        killed = kill_cgroup(self.cgroup, timeout)
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            killed.add(proc.pid)
        remove_cgroup(self.cgroup)
        shutil.rmtree(self.dir, ignore_errors=True)
        return killed


def _pid_namespace_init(pid):
    """True for the first process of a PID namespace (its NSpid ends
    in 1): killing it kills the whole namespace at once."""
    try:
        with open('/proc/%d/status' % pid) as status:
            for line in status:
                if line.startswith('NSpid:'):
                    ids = line.split()[1:]
                    return len(ids) > 1 and ids[-1] == '1'
    except OSError:
        pass
    return False


def kill_cgroup(cgroup, timeout=20, grace=1.0):
    """SIGKILL, by PID, every process of the cgroup (and below) until none
    is left; the PIDs killed. RuntimeError if some survive ``timeout``.

    The node's PID-namespace init goes first and alone: the kernel then
    kills every process of the namespace, and the launcher above it
    (unshare) reaps it and exits by itself, so no process is left for
    init to reap. What still runs after ``grace`` is killed outright."""
    killed = set()
    started = time.monotonic()
    while True:
        pids = cgroup_pids(cgroup)
        if not pids:
            return killed
        if time.monotonic() - started < grace:
            targets = [pid for pid in pids if _pid_namespace_init(pid)]
        else:
            targets = pids
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        if time.monotonic() - started > timeout:
            raise RuntimeError('cgroup %s: processes %s survive' % (
                cgroup, sorted(pids)))
        time.sleep(0.05)


def remove_cgroup(cgroup):
    for top in cgroup_dirs(cgroup):
        # Children first: a cgroup with children cannot be removed.
        for dirpath, _dirs, _files in sorted(
                os.walk(top), key=lambda w: -w[0].count('/')):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
