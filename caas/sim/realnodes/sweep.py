"""The real nodes of a cloud that died without deleting them.

A cloud killed with SIGKILL leaves its nodes running: their processes,
cgroups, namespaces and files. Each backend notes its process in
``<workdir>/<tag>/owner``, the tag being kept in the cloud's own state.

* When the same cloud starts again (same state directory, so same tag),
  ``adopt_or_remove`` takes over every node whose server it still has and
  whose processes still run (its relays and floating IPs are opened
  again; a boot under way is watched to its end), removes every node,
  network or directory of the tag that no wanted server accounts for
  (the remains of a node being created or deleted when the cloud died),
  and boots again each wanted server that has no running node (it had
  not started, or had only been partly wired). A server is thus never
  left without its node, nor a node without its server, nor two nodes
  for one server.
* Another cloud sweeps every tag whose owner is gone (``sweep``), by the
  names the tag is part of (``caas<tag>-*``), before it starts: a data
  directory may never be started again, and its nodes would hold memory
  for ever. Should it start again, its servers' nodes are booted anew.
"""

import glob
import logging
import os
import shutil

from caas.sim.realnodes import netns
from caas.sim.realnodes import node as node_mod

LOG = logging.getLogger(__name__)
OWNER = 'owner'


def claim(workdir, state_dir=None):
    """Note this process as the owner of a backend's directory."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, OWNER), 'w') as out:
        out.write('%d %s\n' % (os.getpid(), state_dir or ''))


def owner(tag_dir):
    """The PID of the live process owning ``tag_dir``, else None."""
    try:
        with open(os.path.join(tag_dir, OWNER)) as owner_file:
            pid = int(owner_file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if os.path.exists('/proc/%d' % pid) else None


def _cgroups(prefix):
    return sorted({os.path.basename(path)
                   for hierarchy in node_mod.hierarchies()
                   for path in glob.glob(os.path.join(hierarchy,
                                                      prefix + '*'))})


def _namespaces(prefix):
    if not os.path.isdir(netns.NETNS_DIR):
        return []
    return sorted(n for n in os.listdir(netns.NETNS_DIR)
                  if n.startswith(prefix))


def _remove_node(cgroup):
    node_mod.kill_cgroup(cgroup)
    node_mod.remove_cgroup(cgroup)


def sweep(root, spare=None):
    """Remove every node and network of the dead backends under ``root``
    but ``spare`` (the caller's own tag); the tags swept."""
    swept = []
    if not os.path.isdir(root):
        return swept
    for tag in sorted(os.listdir(root)):
        tag_dir = os.path.join(root, tag)
        if tag == spare or not os.path.isdir(tag_dir) or owner(tag_dir):
            continue
        prefix = 'caas%s-' % tag
        cgroups = _cgroups(prefix)
        for cgroup in cgroups:
            _remove_node(cgroup)
        for name in _namespaces(prefix):
            netns.delete(name)
        shutil.rmtree(tag_dir, ignore_errors=True)
        LOG.warning('Removed the real nodes left by a dead cloud (tag %s: '
                    '%d nodes)', tag, len(cgroups))
        swept.append(tag)
    return swept


def adopt_or_remove(backend):
    """Take over this cloud's own nodes that outlived its last process,
    remove the remains no server accounts for, boot again the servers
    that lost theirs. Returns (adopted, removed, rebooted) counts."""
    cloud = backend.cloud
    with cloud.lock:
        wanted = {srv['id']: dict(srv)
                  for srv in cloud.data['servers'].values()
                  if srv.get('real_node') and srv['delete_at'] is None}
        specs = {sid: backend.spec(srv) for sid, srv in wanted.items()}
    prefix = 'caas%s-' % backend.tag
    adopted = {}
    for server_id, spec in specs.items():
        name = backend._node_name(server_id)
        node = node_mod.Node(backend.workdir, backend.base, spec, name, name)
        if netns.exists(name) and node.adopt():
            adopted[server_id] = node
    keep = {backend._node_name(sid) for sid in adopted}
    networks = {backend._net_name(port['network_id']): port
                for sid in adopted for port in specs[sid]['ports']}
    removed = 0
    for cgroup in _cgroups(prefix):
        if cgroup not in keep:
            _remove_node(cgroup)
            removed += 1
    for name in _namespaces(prefix):
        if name not in keep and name not in networks:
            netns.delete(name)
    if os.path.isdir(backend.workdir):
        for entry in os.listdir(backend.workdir):
            if entry != OWNER and entry not in adopted:
                shutil.rmtree(os.path.join(backend.workdir, entry),
                              ignore_errors=True)
    for port in networks.values():
        backend._network(port['network_id'], port['cidr'], port['gateway'],
                         adopt=True)
    for server_id, node in adopted.items():
        with backend._lock:
            backend.nodes[server_id] = node
            backend.adopted.add(server_id)
            for port in specs[server_id]['ports']:
                net = backend.networks[port['network_id']]
                net.nodes.add(server_id)
        backend.watch_adopted(specs[server_id], node)
    rebooted = [sid for sid in specs if sid not in adopted]
    with cloud.lock:
        for server_id in rebooted:
            srv = cloud.data['servers'].get(server_id)
            if srv is not None:
                backend.boot(srv)
    if adopted or removed or rebooted:
        LOG.warning('Real nodes of a previous run of this cloud (tag %s): '
                    '%d adopted, %d removed, %d booted again',
                    backend.tag, len(adopted), removed, len(rebooted))
    return len(adopted), removed, len(rebooted)
