"""Chaos: 3 conductors, 30 clusters, kill -9 conductors, restart RabbitMQ,
restart PostgreSQL and take it away for a few seconds.

Bounded and self-stopping. Creates and deletes run through two PostgreSQL
restarts (pg_ctl restart -m fast) and two short outages (stopped 3-5 s).
At the end no cluster is stuck: every one settled (*_COMPLETE, *_FAILED or
gone - checked, and in fact every create completes and every delete
finishes), the simulated cloud held exactly one stack per cluster, no
operation is left unfinished, and after deleting everything the cloud is
empty. Prints the figures: kills, restarts, outages, takeovers and how long
each takeover took (kill -9 to the next claim of each operation the killed
conductor owned).
"""

import collections
import concurrent.futures
import os
import random
import statistics
import threading
import time

import pytest

from tests.integration import conftest
from tests.integration import helpers

pytestmark = pytest.mark.integration

CLUSTERS = 30
CONDUCTORS = 3


class TakeoverClock:
    """Measures, for each kill, how long until its operations are re-claimed."""

    def __init__(self, db_url):
        self.db_url = db_url
        self.times = []
        self.threads = []
        self.missed = []      # operations never re-claimed within 60 s

    def killed(self, host, owned):
        started = time.monotonic()
        pending = {op['id']: op['epoch'] for op in owned}

        def watch():
            deadline = started + 60
            while pending and time.monotonic() < deadline:
                try:
                    ops = helpers.operations(self.db_url)
                except Exception:
                    # The database is restarting; look again.
                    time.sleep(0.2)
                    continue
                for op in ops:
                    if op['id'] in pending and (
                            op['epoch'] > pending[op['id']] or
                            op['state'] in ('SUCCEEDED', 'FAILED')):
                        del pending[op['id']]
                        self.times.append(time.monotonic() - started)
                time.sleep(0.1)
            self.missed.extend(pending)

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        self.threads.append(t)

    def join(self):
        for t in self.threads:
            t.join(timeout=90)


def _outage(rng):
    """PostgreSQL stopped for 3-5 s, then started again."""
    down = rng.uniform(3.0, 5.0)
    try:
        conftest.postgres('stop-pg')
        time.sleep(down)
    finally:
        conftest.postgres('start-pg')
    print('PostgreSQL was down for %.1fs' % down)


def test_chaos(deploy):
    seed = int(os.environ.get('CAAS_CHAOS_SEED', time.time()))
    rng = random.Random(seed)
    print('\nchaos seed %d' % seed)
    dep = deploy(conductors=CONDUCTORS, boot_delay=3)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    clock = TakeoverClock(dep.db_url)
    uuids = []
    unavailable = []
    lock = threading.Lock()
    figures = collections.Counter()

    def create(i):
        uuid, n503 = helpers.create_cluster(
            dep.api_url, 'chaos-%02d' % i, cluster_template_id=tmpl.uuid,
            master_count=1, node_count=1 + i % 2)
        with lock:
            uuids.append(uuid)
            unavailable.append(n503)

    def kill_one(restart_after):
        """kill -9 the live conductor that runs the most operations (waiting
        a little for one to run any), so that every kill costs work.

        Only conductors that finished starting count as live: on a loaded
        machine a restart can take a minute, and killing the last started
        one would leave nobody to take over.
        """
        ready_by = time.monotonic() + 180
        while sum(dep.conductor_ready(i) for i in range(CONDUCTORS)) < 2 \
                and time.monotonic() < ready_by:
            time.sleep(0.5)
        deadline = time.monotonic() + 10
        while True:
            alive = [i for i in range(CONDUCTORS) if dep.conductor_ready(i)]
            running = collections.Counter(
                op['owner'] for op in helpers.operations(dep.db_url)
                if op['state'] == 'RUNNING')
            busiest = max(running[dep.conductor_name(i)] for i in alive)
            if busiest or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        i = rng.choice([i for i in alive
                        if running[dep.conductor_name(i)] == busiest])
        name = dep.conductor_name(i)
        owned = [op for op in helpers.operations(dep.db_url)
                 if op['owner'] == name and op['state'] == 'RUNNING']
        dep.kill(name)
        clock.killed(name, owned)
        figures['kills'] += 1
        print('%s killed %s owning %d running operations; restart in '
              '%.1fs' % (time.strftime('%H:%M:%S'), name, len(owned),
                         restart_after))

        def restart():
            time.sleep(restart_after)
            dep.start_conductor(i)
        threading.Thread(target=restart, daemon=True).start()

    def restart_pg():
        conftest.postgres('restart-pg')
        figures['postgres restarts'] += 1
        print('PostgreSQL restarted')

    def outage():
        _outage(rng)
        figures['postgres outages'] += 1

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        first = [pool.submit(create, i) for i in range(CLUSTERS // 2)]
        time.sleep(rng.uniform(1.0, 2.5))
        kill_one(restart_after=6)    # past the heartbeat timeout: others act
        time.sleep(rng.uniform(0.5, 1.5))
        restart_pg()                 # with the first half in flight
        for f in first:
            f.result()
        # RabbitMQ goes away while the second half is requested.
        conftest.rabbit('stop-rabbit')
        second = [pool.submit(create, i)
                  for i in range(CLUSTERS // 2, CLUSTERS)]
        time.sleep(1)
        conftest.rabbit('start-rabbit')
        figures['rabbitmq restarts'] += 1
        print('RabbitMQ restarted')
        for f in second:
            f.result()
        for restart_after in (1.0, 6, 8):
            time.sleep(rng.uniform(1.0, 3.0))
            kill_one(restart_after)
            if restart_after == 1.0:
                outage()             # while the second half runs

    assert len(uuids) == CLUSTERS
    seen = helpers.wait_settled(mc, uuids, timeout=300)
    stuck = helpers.stuck(seen)
    print('after the creates: %s; stuck %d' % (
        dict(collections.Counter(seen.values())), len(stuck)))
    assert stuck == {}, 'clusters stuck in progress: %s' % stuck
    assert set(seen.values()) == {'CREATE_COMPLETE'}, seen
    clock.join()

    ops = helpers.operations(dep.db_url)
    assert [op for op in ops if op['state'] in ('PENDING', 'RUNNING')] == []
    stacks = dep.sim_state()['stacks']
    assert sorted(s['name'] for s in stacks) == sorted(
        'caas-%s' % u for u in uuids)
    assert {s['status'] for s in stacks} == {'CREATE_COMPLETE'}

    print('claims per create operation: max %d' % max(
        op['claims'] for op in ops))

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda u: helpers.magnum(dep.api_url).clusters.delete(u),
                      uuids))
    # And once more while the deletes run: a kill, a restart, an outage.
    time.sleep(rng.uniform(0.2, 1.0))
    kill_one(restart_after=6)
    time.sleep(rng.uniform(0.2, 1.0))
    restart_pg()
    time.sleep(rng.uniform(0.5, 1.5))
    outage()
    seen = helpers.wait_settled(mc, uuids, timeout=240)
    stuck = helpers.stuck(seen)
    print('after the deletes: %s; stuck %d' % (
        dict(collections.Counter(seen.values())), len(stuck)))
    assert stuck == {}, 'clusters stuck in progress: %s' % stuck
    assert set(seen.values()) == {'gone'}, seen
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = dep.sim_state()['counts']
        if counts['stacks'] == 0 and counts['servers'] == 0:
            break
        time.sleep(0.5)
    assert counts['stacks'] == 0 and counts['servers'] == 0, counts
    ops = helpers.operations(dep.db_url)
    assert [op for op in ops if op['state'] in ('PENDING', 'RUNNING')] == []
    clock.join()
    assert clock.missed == [], 'operations never taken over: %s' % (
        clock.missed,)
    times = sorted(clock.times)
    print('kills: %d; PostgreSQL restarts: %d, outages: %d; RabbitMQ '
          'restarts: %d; creates answered 503 and retried (database or '
          'cloud unavailable): %d' % (
              figures['kills'], figures['postgres restarts'],
              figures['postgres outages'], figures['rabbitmq restarts'],
              sum(unavailable)))
    print('operations taken over after kills: %d; claims beyond the first '
          '(all takeovers, re-claims included): %d; stuck: 0' % (
              len(times), sum(op['claims'] - 1 for op in ops)))
    if times:
        print('takeover seconds: min %.1f median %.1f max %.1f' % (
            times[0], statistics.median(times), times[-1]))
