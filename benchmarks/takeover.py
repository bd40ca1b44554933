"""Takeover time after kill -9 with the default conductor timings.

Starts caas-cloudsim, caas-api and two caas-conductor processes over the
RabbitMQ and PostgreSQL of ``tools/services.sh start`` (CAAS_TEST_DB_URL and
CAAS_TEST_TRANSPORT_URL), with [conductor] heartbeat_interval,
heartbeat_timeout and sweep_interval left at their defaults. For each round
it creates a cluster with a long boot delay, kills its owner with SIGKILL
and measures the time until the other conductor's claim (epoch + 1), then
restarts the killed one. Prints the figures; asserts nothing about time.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks import harness  # noqa: E402
from tests.integration import helpers  # noqa: E402



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--boot-delay', type=float, default=30.0)
    args = parser.parse_args(argv)
    harness.quiet_logs()
    times = run(args.rounds, args.boot_delay)
    if times is None:
        return 2
    print('takeover after kill -9 with heartbeat 2 s / timeout 10 s / '
          'sweep 2 s: n=%d min %.1f median %.1f max %.1f s' % (
              len(times), min(times), statistics.median(times), max(times)))
    return 0


def run(rounds, boot_delay=30.0):
    """Seconds from kill -9 to the other conductor's claim, per round."""
    args = argparse.Namespace(rounds=rounds, boot_delay=boot_delay)
    db_admin = os.environ.get('CAAS_TEST_DB_URL')
    transport = os.environ.get('CAAS_TEST_TRANSPORT_URL')
    if not (db_admin and transport):
        print('set CAAS_TEST_DB_URL and CAAS_TEST_TRANSPORT_URL: '
              'eval "$(tools/services.sh start)"')
        return None
    from benchmarks import deploy
    dep = deploy.BenchDeployment(
        conductors=2, boot_delay=args.boot_delay,
        conductor_opts={'heartbeat_interval': 2.0, 'heartbeat_timeout': 10.0,
                        'sweep_interval': 2.0, 'unclaimed_timeout': 10.0,
                        'stack_poll_initial': 0.2, 'stack_poll_max': 3.0})
    dep.start()
    times = []
    try:
        mc = helpers.magnum(dep.api_url)
        tmpl = helpers.make_template(mc)
        for i in range(args.rounds):
            cluster = mc.clusters.create(name='t%d' % i,
                                         cluster_template_id=tmpl.uuid,
                                         node_count=1)
            deadline = time.monotonic() + 30
            op = None
            while time.monotonic() < deadline:
                ops = [o for o in helpers.operations(dep.db_url)
                       if o['cluster_id'] == cluster.uuid and o['owner']]
                if ops:
                    op = ops[0]
                    break
                time.sleep(0.05)
            owner = op['owner']
            index = int(owner.rsplit('-', 1)[1])
            time.sleep(2.5)    # let a heartbeat or two pass
            killed = time.monotonic()
            dep.kill(owner)
            while time.monotonic() < killed + 60:
                now = [o for o in helpers.operations(dep.db_url)
                       if o['id'] == op['id']][0]
                if now['epoch'] > op['epoch']:
                    break
                time.sleep(0.05)
            took = time.monotonic() - killed
            times.append(took)
            print('round %d: %s killed, claimed by %s after %.1f s' % (
                i + 1, owner, now['owner'], took), flush=True)
            dep.start_conductor(index)
            time.sleep(3)
    finally:
        dep.stop_all()
    return times


if __name__ == '__main__':
    sys.exit(main())
