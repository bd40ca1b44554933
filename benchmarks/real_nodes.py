"""A real 3-node Docker Swarm on real nodes: how long, how much memory.

POSTs the hand-written Swarm template of tests/integration/test_real_nodes.py
(a manager with mutual-TLS Docker API and two workers joining it) to the
simulated Heat of a cloud with real nodes (caas.sim.realnodes) through
python-heatclient, with the simulated cloud's default timings (servers 1 s
in BUILD), and prints POST -> CREATE_COMPLETE, each node's RSS and PSS (all
its processes, from /proc), and DELETE -> every node gone. Skipped, with
the reason printed, when real nodes cannot run here (not root, no base).

Boots real nodes: on a machine shared with other real-node runs, run it
under their lock (``flock /tmp/caas-realnodes.lock ...``).

    .venv/bin/python benchmarks/real_nodes.py [--rounds 1]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)


def unavailable():
    """Why real nodes cannot run here (None: they can)."""
    from caas.sim.realnodes import base
    try:
        base.check(base.default_path())
    except base.Unavailable as exc:
        return str(exc).replace('\n', ' ')
    return None


def _memory(pids):
    """(RSS, PSS) in bytes of the processes."""
    rss = pss = 0
    for pid in pids:
        try:
            with open('/proc/%d/smaps_rollup' % pid) as rollup:
                for line in rollup:
                    if line.startswith('Rss:'):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith('Pss:'):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


def _heat(server):
    from heatclient import client as heat_client
    from keystoneauth1.identity import v3
    from keystoneauth1 import session as ks_session
    auth = v3.Password(auth_url=server.auth_url, username='demo',
                       password=server.cloud.knobs.get('admin_password',
                                                       'caas'),
                       project_name='demo', user_domain_id='default',
                       project_domain_id='default')
    return heat_client.Client('1', session=ks_session.Session(auth=auth))


def _template():
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from tests.integration import test_real_nodes as rn
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = rn._cert('bench CA', ca_key, 'bench CA', ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    client = rn._cert('admin', key, 'bench CA', ca_key,
                      usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return rn.swarm_template(rn._pem(ca), rn._pem(ca_key), rn._pem(client),
                             rn._pem(key))


def _stack_exists(heat, stack_id):
    from heatclient import exc
    try:
        return heat.stacks.get(stack_id).stack_status != 'DELETE_COMPLETE'
    except exc.HTTPNotFound:
        return False


def one_round(server, heat, timeout, out):
    from caas.sim.realnodes import node as node_mod
    backend = server.cloud.realnodes
    started = time.monotonic()
    stack_id = heat.stacks.create(stack_name='bench-swarm',
                                  template=_template())['stack']['id']
    status = 'CREATE_IN_PROGRESS'
    while status == 'CREATE_IN_PROGRESS' and \
            time.monotonic() - started < timeout:
        time.sleep(0.25)
        status = heat.stacks.get(stack_id).stack_status
    complete = time.monotonic() - started
    if status != 'CREATE_COMPLETE':
        raise RuntimeError('stack %s: %s' % (
            status, heat.stacks.get(stack_id).stack_status_reason))
    memory = [_memory(node_mod.cgroup_pids(node.cgroup))
              for node in list(backend.nodes.values())]
    out('real nodes: POST -> CREATE_COMPLETE %.1f s; RSS/PSS per node %s '
        'MiB' % (complete, ', '.join('%d/%d' % (r / 2 ** 20, p / 2 ** 20)
                                     for r, p in memory)))
    deleted = time.monotonic()
    heat.stacks.delete(stack_id)
    while backend.nodes and time.monotonic() - deleted < 120:
        time.sleep(0.1)
    backend.wait_idle()
    gone = time.monotonic() - deleted
    # The next round creates a stack of the same name: Heat refuses it
    # (409) while this one exists, DELETE_IN_PROGRESS included.
    while time.monotonic() - deleted < 120 and _stack_exists(heat, stack_id):
        time.sleep(0.1)
    return {'complete_s': round(complete, 1),
            'rss_mib': [round(r / 2 ** 20) for r, _p in memory],
            'pss_mib': [round(p / 2 ** 20) for _r, p in memory],
            'delete_s': round(gone, 1)}


def run(rounds=1, timeout=300, out=print):
    reason = unavailable()
    if reason:
        out('real nodes: skipped: %s' % reason)
        return {'skipped': reason}
    from caas.sim import server as sim_server
    from caas.sim.realnodes import base
    with tempfile.TemporaryDirectory() as tmp:
        server = sim_server.SimServer(state_dir=tmp,
                                      real_nodes=base.default_path())
        server.start()
        try:
            heat = _heat(server)
            results = [one_round(server, heat, timeout, out)
                       for _ in range(rounds)]
        finally:
            server.stop()
    completes = [r['complete_s'] for r in results]
    return {'rounds': results,
            'complete_p50_s': round(statistics.median(completes), 1),
            'rss_mib_max': max(max(r['rss_mib']) for r in results),
            'pss_mib_max': max(max(r['pss_mib']) for r in results),
            'pss_mib_total': max(sum(r['pss_mib']) for r in results),
            'delete_p50_s': round(statistics.median(
                [r['delete_s'] for r in results]), 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--timeout', type=float, default=300)
    args = parser.parse_args(argv)
    import harness
    harness.quiet_logs()
    print(run(args.rounds, args.timeout))


if __name__ == '__main__':
    main()
