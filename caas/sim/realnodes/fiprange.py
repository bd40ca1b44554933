"""The loopback range a real-node cloud's floating IPs come from.

A cloud with real nodes listens on its floating IPs (the forwarders into
the nodes), and loopback addresses are machine-wide: two such clouds on one
machine (two test workers, two data directories) must not hand out the same
address. Each one holds its range with an ``flock`` on a file under
``LOCK_DIR`` for as long as it runs; the kernel drops the lock when the
process dies, even by SIGKILL. Without a configured range a cloud takes the
/24 of ``POOL`` that its state directory hashes to, or the next free one,
and the cloud keeps it in its own state so that a restarted cloud (whose
floating IPs already have addresses) holds the same range again.
"""

import errno
import fcntl
import hashlib
import ipaddress
import os

from caas.sim.realnodes import base

POOL = ipaddress.ip_network('127.64.0.0/10')
SLOT_PREFIX = 24
LOCK_DIR = '/run/caas-realnodes/fip'
LOOPBACK = ipaddress.ip_network('127.0.0.0/8')


class Reservation(object):
    """A range held by this process until ``release`` (or its end)."""

    def __init__(self, network, fd):
        self.network = network
        self._fd = fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock_path(network, lock_dir):
    return os.path.join(lock_dir, '%s-%d' % (network.network_address,
                                             network.prefixlen))


def _try_lock(network, owner, lock_dir):
    """The locked file's descriptor, or None and what holds it."""
    os.makedirs(lock_dir, exist_ok=True)
    # os.open's descriptors are not inherited: the nodes this process
    # starts outlive it and must not keep its range held.
    fd = os.open(_lock_path(network, lock_dir), os.O_RDWR | os.O_CREAT,
                 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            os.close(fd)
            raise
        holder = os.pread(fd, 512, 0).decode(errors='replace').strip()
        os.close(fd)
        return None, holder
    os.ftruncate(fd, 0)
    os.pwrite(fd, owner.encode(), 0)
    return fd, None


def slot(index):
    """The index-th /24 of the pool."""
    count = 2 ** (SLOT_PREFIX - POOL.prefixlen)
    first = int(POOL.network_address) + (index % count) * 2 ** (
        32 - SLOT_PREFIX)
    return ipaddress.ip_network('%s/%d' % (ipaddress.ip_address(first),
                                           SLOT_PREFIX))


def reserve(key, recorded=None, configured=None, owner='',
            lock_dir=LOCK_DIR):
    """Hold the range for a cloud: ``configured`` if given, else the one
    its state ``recorded``, else the pool's slot ``key`` (its state
    directory) hashes to or the next free one. Unavailable when a given
    range is not on loopback or is held by another cloud."""
    owner = '%d %s\n' % (os.getpid(), owner)
    fixed = configured or recorded
    if fixed:
        try:
            network = ipaddress.ip_network(fixed)
        except ValueError as exc:
            raise base.Unavailable('floating IP range %r: %s' % (fixed, exc))
        if not network.subnet_of(LOOPBACK) or network.num_addresses < 4:
            raise base.Unavailable(
                'floating IP range %s: it must be a network of at least 4 '
                'addresses within 127.0.0.0/8 (nothing may leave the '
                'machine)' % network)
        fd, holder = _try_lock(network, owner, lock_dir)
        if fd is None:
            raise base.Unavailable(
                'floating IP range %s is held by another cloud with real '
                'nodes (PID and state: %s); stop it, or give this one '
                '[sim] floating_ip_range' % (network, holder or '?'))
        return Reservation(network, fd)
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], 'big')
    count = 2 ** (SLOT_PREFIX - POOL.prefixlen)
    for offset in range(count):
        network = slot(start + offset)
        fd, _holder = _try_lock(network, owner, lock_dir)
        if fd is not None:
            return Reservation(network, fd)
    raise base.Unavailable('every floating IP range of %s is held' % POOL)
