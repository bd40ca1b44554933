"""Cast latency of the conductor RPC API over oslo.messaging.

Uses caas's own ConductorAPI client (schema check included) and a trivial
server endpoint on a private topic, over caas-all's in-process transport
(and plain ``kombu+memory:////``) and, when ``CAAS_TEST_TRANSPORT_URL``
is set (RabbitMQ from ``tools/services.sh start``), over RabbitMQ on
127.0.0.1:

* cast:  time the ``cluster_create`` cast call takes to return;
* one-by-one: send, wait for the endpoint to receive it, repeat
  (end-to-end latency of one message);
* burst: send N without waiting, time until the last one is received;
  then the same from several threads at once (the API casts from each of
  its worker threads);
* ``--processes 1,2,4`` (RabbitMQ only): N sending processes at once, each
  like a caas-api worker (its own ConductorAPI, hence its own connections;
  ``--casts`` each from ``--process-threads`` threads), to ``--consumers``
  processes serving the conductor's own endpoint
  (``caas.conductor.manager.ConductorManager``: schema check on receipt),
  whose flow runner only counts. Prints the aggregate casts/s sent (each
  confirmed by the broker) and received.

    .venv/bin/python benchmarks/rpc_cast.py [--casts 1000]
    eval "$(tools/services.sh start)"; .venv/bin/python benchmarks/rpc_cast.py
    .venv/bin/python benchmarks/rpc_cast.py --processes 1,2,4 --casts 2000

Prints figures; asserts nothing about time.
"""

import argparse
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from oslo_log import log as logging  # noqa: E402

# The claim's logger (the Recorder logs as a claim does).
LOG = logging.getLogger('caas.conductor.engine')


class Endpoint:
    """Receives cluster_create and notes when each message arrived."""

    def __init__(self):
        import oslo_messaging as messaging
        self.target = messaging.Target(version='1.1')
        self.received = {}
        self._pending = set()
        self._cond = threading.Condition()

    def cluster_create(self, context, cluster_uuid, operation_id,
                       request_id=None):
        now = time.perf_counter()
        with self._cond:
            self.received[cluster_uuid] = now
            self._pending.discard(cluster_uuid)
            if not self._pending:
                self._cond.notify_all()

    def expect(self, uuids):
        """Call before sending: the next wait() ends when all have come."""
        with self._cond:
            self._pending = set(uuids) - set(self.received)

    def wait(self, timeout):
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout)


def _threaded_burst(client, ctx, endpoint, casts, threads, timeout):
    """Casts sent from ``threads`` threads at once (as the API's worker
    threads do): (received, seconds until the last arrived)."""
    deadline = harness.Deadline(timeout)
    sent = [str(uuid.uuid4()) for _ in range(casts)]
    endpoint.expect(sent)

    def sender(part):
        for cid in part:
            if deadline.passed():
                return
            client.cluster_create(ctx, cluster_uuid=cid,
                                  operation_id=str(uuid.uuid4()))
    workers = [threading.Thread(target=sender, args=(sent[k::threads],))
               for k in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    endpoint.wait(max(0.1, deadline.left()))
    wall = time.perf_counter() - start
    return sum(1 for u in sent if u in endpoint.received), wall


def run_transport(name, url, casts, timeout, threads=4):
    import oslo_messaging as messaging
    from caas.common import context
    from caas.common import rpc
    from caas.conductor import rpcapi
    from caas.conf import CONF

    CONF.set_override('transport_url', url)
    rpc.cleanup()
    # One fixed topic, so that runs against a shared broker reuse its queues
    # instead of leaving one set per run; messages left by an interrupted
    # run are ignored because only this run's UUIDs are waited for.
    topic = 'caas-bench-rpc'
    endpoint = Endpoint()
    server = rpc.get_server(messaging.Target(topic=topic, server='bench'),
                            [endpoint])
    server.start()
    try:
        client = rpcapi.ConductorAPI(topic=topic)
        ctx = context.get_admin_context()
        deadline = harness.Deadline(timeout)

        # Warm up: the first cast declares queues and opens connections.
        cid = str(uuid.uuid4())
        endpoint.expect([cid])
        client.cluster_create(ctx, cluster_uuid=cid,
                              operation_id=str(uuid.uuid4()))
        endpoint.wait(30)

        cast_times, e2e = [], []
        for _ in range(casts):
            if deadline.passed():
                break
            cid = str(uuid.uuid4())
            endpoint.expect([cid])
            start = time.perf_counter()
            client.cluster_create(ctx, cluster_uuid=cid,
                                  operation_id=str(uuid.uuid4()))
            cast_times.append(time.perf_counter() - start)
            if not endpoint.wait(max(0.1, deadline.left())):
                break
            e2e.append(endpoint.received[cid] - start)
        print('%s cast call:      %s' % (name, harness.summary(
            cast_times, 'ms', 1000)))
        print('%s one-by-one e2e: %s' % (name, harness.summary(
            e2e, 'ms', 1000)))

        deadline = harness.Deadline(timeout)
        sent = [str(uuid.uuid4()) for _ in range(casts)]
        endpoint.expect(sent)
        start = time.perf_counter()
        for i, cid in enumerate(sent):
            if deadline.passed():
                endpoint.expect(sent[:i])
                sent = sent[:i]
                break
            client.cluster_create(ctx, cluster_uuid=cid,
                                  operation_id=str(uuid.uuid4()))
        send_wall = time.perf_counter() - start
        endpoint.wait(max(0.1, deadline.left()))
        wall = time.perf_counter() - start
        got = sum(1 for u in sent if u in endpoint.received)
        print('%s burst: %d sent in %.2f s, %d received in %.2f s = %.0f '
              'msg/s' % (name, len(sent), send_wall, got, wall, got / wall))
        row = {'cast_p50_ms': harness.pct_ms(cast_times, 50),
               'e2e_p50_ms': harness.pct_ms(e2e, 50),
               'burst_casts_s': round(got / wall, 1),
               'sent_casts_s': round(len(sent) / send_wall, 1)}
        if threads > 1:
            got, wall = _threaded_burst(client, ctx, endpoint, casts,
                                        threads, timeout)
            print('%s burst from %d threads: %d received in %.2f s = %.0f '
                  'msg/s' % (name, threads, got, wall, got / wall))
            row['burst_threads'] = threads
            row['burst_threads_casts_s'] = round(got / wall, 1)
        return row
    finally:
        server.stop()
        server.wait()
        rpc.cleanup()
        CONF.clear_override('transport_url')


class _Recorder:
    """The conductor's flow runner, replaced by a count: what the endpoint
    (caas.conductor.manager.ConductorManager: schema check on receipt,
    log line) hands on is counted, and only this run's operations."""

    def __init__(self, prefix, counter):
        self.prefix = prefix
        self.counter = counter

    def claim_and_run(self, operation_id, request_id=None):
        """Claimed, as the runner says: one log line, as a claim's."""
        if not operation_id.startswith(self.prefix):
            return False
        with self.counter.get_lock():
            self.counter.value += 1
        LOG.info('Operation %s: counted (request %s)', operation_id,
                 request_id)
        return True


def _child_config(url):
    harness.init_config()
    from caas.conf import CONF
    CONF.set_override('transport_url', url)


def _consumer(url, topic, index, prefix, counter, ready, stop):
    """A process serving the conductor's RPC endpoint on ``topic``."""
    _child_config(url)
    import oslo_messaging as messaging
    from caas.common import rpc
    from caas.conductor import manager
    # Fixed server names: their queues are reused by the next run.
    server = rpc.get_server(
        messaging.Target(topic=topic, server='bench-consumer-%d' % index),
        [manager.ConductorManager(_Recorder(prefix, counter))])
    server.start()
    ready.release()
    stop.wait()
    server.stop()
    server.wait()
    rpc.cleanup()


def _op_id(prefix):
    return prefix + str(uuid.uuid4())[len(prefix):]


def _sender(url, topic, prefix, casts, threads, ready, go, results):
    """A process like one caas-api worker: its own ConductorAPI (and so its
    own connections to the broker) casting from ``threads`` threads."""
    _child_config(url)
    from caas.common import context
    from caas.conductor import rpcapi
    client = rpcapi.ConductorAPI(topic=topic)
    ctx = context.get_admin_context()

    def cast():
        client.cluster_create(ctx, cluster_uuid=str(uuid.uuid4()),
                              operation_id=_op_id(prefix))

    # Warm-up: one cast per thread at once opens the pooled connections.
    warm = [threading.Thread(target=cast) for _ in range(threads)]
    for w in warm:
        w.start()
    for w in warm:
        w.join()
    ready.release()
    go.wait()
    cpu = time.process_time()
    start = time.monotonic()
    workers = [threading.Thread(target=lambda n=n: [
        cast() for _ in range(n)]) for n in (
        [casts // threads + (1 if k < casts % threads else 0)
         for k in range(threads)])]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put({'sent': casts, 'warmup': threads, 'start': start,
                 'end': time.monotonic(),
                 'cpu_s': time.process_time() - cpu})


def run_processes(url, processes, casts, threads=1, consumers=1,
                  timeout=120.0, out=print):
    """Casts from ``processes`` sending processes at once (``casts`` each,
    from ``threads`` threads each), received by ``consumers`` processes
    serving the conductor's endpoint: the aggregate casts/s.

    ``sent_casts_s`` counts casts returned to their callers (each one
    confirmed by the broker: oslo.messaging's RabbitMQ driver publishes with
    confirms), ``received_casts_s`` the casts the endpoints got, both over
    the time since the senders started.
    """
    import multiprocessing
    mp = multiprocessing.get_context('spawn')
    topic = 'caas-bench-rpc'
    prefix = uuid.uuid4().hex[:8]
    counter = mp.Value('l', 0)
    ready, go, stop = mp.Semaphore(0), mp.Event(), mp.Event()
    results = mp.Queue()
    procs = [mp.Process(target=_consumer, daemon=True,
                        args=(url, topic, i, prefix, counter, ready, stop))
             for i in range(consumers)]
    procs += [mp.Process(target=_sender, daemon=True,
                         args=(url, topic, prefix, casts, threads, ready, go,
                               results))
              for _ in range(processes)]
    deadline = harness.Deadline(timeout)
    row = {'processes': processes, 'threads': threads,
           'consumers': consumers}
    try:
        for p in procs[:consumers]:
            p.start()
        for _ in range(consumers):
            if not ready.acquire(timeout=max(0.1, deadline.left())):
                raise RuntimeError('an RPC server did not start')
        for p in procs[consumers:]:
            p.start()
        for _ in range(processes):
            if not ready.acquire(timeout=max(0.1, deadline.left())):
                raise RuntimeError('a sending process did not start')
        go.set()
        parts = [results.get(timeout=max(0.1, deadline.left()))
                 for _ in range(processes)]
        expected = sum(p['sent'] + p['warmup'] for p in parts)
        while counter.value < expected and not deadline.passed():
            time.sleep(0.01)
        received_at = time.monotonic()
        start = min(p['start'] for p in parts)
        sent_end = max(p['end'] for p in parts)
        sent = sum(p['sent'] for p in parts)
        got = counter.value - sum(p['warmup'] for p in parts)
        row.update({
            'sent': sent, 'received': got,
            'sent_casts_s': round(sent / (sent_end - start), 1),
            'received_casts_s': round(got / (received_at - start), 1),
            'sender_cpu_ms_per_cast': round(
                1000.0 * sum(p['cpu_s'] for p in parts) / sent, 3)})
        out('%d sending process%s x %d thread%s, %d consumer%s: %d casts '
            'sent at %.0f/s (%.2f ms CPU each), %d received at %.0f/s' % (
                processes, 'es' if processes > 1 else '', threads,
                's' if threads > 1 else '', consumers,
                's' if consumers > 1 else '', sent, row['sent_casts_s'],
                row['sender_cpu_ms_per_cast'], got,
                row['received_casts_s']))
        return row
    finally:
        stop.set()
        go.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--casts', type=int, default=1000)
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='Bound on each phase, seconds.')
    parser.add_argument('--threads', type=int, default=4,
                        help='Sending threads of the second burst.')
    parser.add_argument('--processes', default='',
                        help='Comma-separated counts of sending processes '
                             '(e.g. 1,2,4), each like a caas-api worker, '
                             'for RabbitMQ only: casts per process '
                             '--casts, from --process-threads threads.')
    parser.add_argument('--process-threads', type=int, default=2)
    parser.add_argument('--consumers', type=int, default=1,
                        help='Processes serving the conductor endpoint.')
    args = parser.parse_args(argv)
    harness.init_config()
    rabbit = os.environ.get('CAAS_TEST_TRANSPORT_URL')
    if args.processes:
        if not rabbit:
            print('CAAS_TEST_TRANSPORT_URL unset: eval "$(tools/'
                  'services.sh start)" first')
            return 2
        for n in [int(p) for p in args.processes.split(',') if p]:
            run_processes(rabbit, n, args.casts, args.process_threads,
                          args.consumers, args.timeout)
        return 0

    from caas.common import rpc
    transports = [('memory (caas-all)', rpc.IN_PROCESS_TRANSPORT_URL),
                  ('kombu+memory, busy-polling', 'kombu+memory:////')]
    if rabbit:
        transports.append(('rabbit', rabbit))
    else:
        print('CAAS_TEST_TRANSPORT_URL unset: RabbitMQ skipped '
              '(eval "$(tools/services.sh start)" first)')
    for name, url in transports:
        run_transport(name, url, args.casts, args.timeout, args.threads)
    return 0


if __name__ == '__main__':
    sys.exit(main())
