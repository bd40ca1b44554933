"""Removing the real nodes of a cloud that died without deleting them.

A cloud killed with SIGKILL leaves its nodes running: their processes,
cgroups, namespaces and files. Each backend notes its process in
``<workdir>/<tag>/owner``; a new backend sweeps every tag whose owner is
gone, by the names the tag is part of (``caas<tag>-*``), before it starts.
"""

import glob
import logging
import os
import shutil

from caas.sim.realnodes import netns
from caas.sim.realnodes import node as node_mod

LOG = logging.getLogger(__name__)
OWNER = 'owner'


def claim(workdir):
    """Note this process as the owner of a backend's directory."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, OWNER), 'w') as out:
        out.write('%d\n' % os.getpid())


def _alive(tag_dir):
    try:
        with open(os.path.join(tag_dir, OWNER)) as owner:
            pid = int(owner.read().strip())
    except (OSError, ValueError):
        return False
    return os.path.exists('/proc/%d' % pid)


def sweep(root):
    """Remove every node and network of the dead backends under ``root``;
    the tags swept."""
    swept = []
    if not os.path.isdir(root):
        return swept
    for tag in sorted(os.listdir(root)):
        tag_dir = os.path.join(root, tag)
        if not os.path.isdir(tag_dir) or _alive(tag_dir):
            continue
        prefix = 'caas%s-' % tag
        cgroups = {os.path.basename(path)
                   for hierarchy in node_mod.hierarchies()
                   for path in glob.glob(os.path.join(hierarchy,
                                                      prefix + '*'))}
        for cgroup in sorted(cgroups):
            node_mod.kill_cgroup(cgroup)
            node_mod.remove_cgroup(cgroup)
        if os.path.isdir(netns.NETNS_DIR):
            for name in sorted(os.listdir(netns.NETNS_DIR)):
                if name.startswith(prefix):
                    netns.delete(name)
        shutil.rmtree(tag_dir, ignore_errors=True)
        LOG.warning('Removed the real nodes left by a dead cloud (tag %s: '
                    '%d nodes)', tag, len(cgroups))
        swept.append(tag)
    return swept
