"""COE probes spread evenly over the health interval.

Each cluster has a stable slot, ``sha256(uuid) mod slots``, one slot per
second of the interval: a conductor probes about clusters / interval of
them each second instead of all of them at once, and a cluster is probed at
the same offset every interval, whichever conductor watches it. Probes run
in a bounded pool; a cluster whose previous probe has not ended (a hung API
server holds a worker for at most [health] probe_timeout per read) is
skipped in its slot rather than queued twice.
"""

import concurrent.futures
import hashlib
import threading
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

TICK = 1.0


def slot_of(cluster_uuid, slots):
    digest = hashlib.sha256(('probe/%s' % cluster_uuid).encode()).digest()
    return int.from_bytes(digest[:8], 'big') % slots


class ProbeScheduler:
    """Probes the current targets, each in its slot.

    :param probe: ``probe(target) -> result``; ``target`` has ``uuid``.
    :param clock: a monotonic clock (injectable for tests).
    """

    def __init__(self, interval, workers, probe, clock=time.monotonic,
                 tick=TICK):
        self.tick = tick
        self.slots = max(1, int(round(interval / tick)))
        self.probe = probe
        self.clock = clock
        self.results = {}        # uuid -> (result, clock time)
        self._targets = {}       # slot -> {uuid: target}
        self._inflight = set()
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='probe')
        self._stopped = threading.Event()
        self._thread = None
        self._last = None

    def set_targets(self, targets):
        """The clusters to probe from now on (this conductor's share);
        results of clusters no longer in it are dropped."""
        by_slot = {}
        for target in targets:
            by_slot.setdefault(slot_of(target.uuid, self.slots), {})[
                target.uuid] = target
        keep = {t.uuid for t in targets}
        with self._lock:
            self._targets = by_slot
            for gone in set(self.results) - keep:
                del self.results[gone]

    def result(self, cluster_uuid, max_age):
        """The latest probe result no older than ``max_age``, or None."""
        with self._lock:
            found = self.results.get(cluster_uuid)
        if found is None or self.clock() - found[1] > max_age:
            return None
        return found[0]

    def run_slot(self, slot):
        """Submit the probes of one slot; the uuids submitted."""
        with self._lock:
            due = [t for u, t in self._targets.get(slot, {}).items()
                   if u not in self._inflight]
            self._inflight.update(t.uuid for t in due)
        for target in due:
            self._pool.submit(self._run, target)
        return [t.uuid for t in due]

    def _run(self, target):
        try:
            result = self.probe(target)
        except Exception:
            LOG.exception('Cluster %s: health probe failed', target.uuid)
            result = None
        finally:
            with self._lock:
                self._inflight.discard(target.uuid)
        if result is not None:
            with self._lock:
                self.results[target.uuid] = (result, self.clock())

    def step(self):
        """Run every slot whose second began since the last step (none is
        skipped when this thread was late)."""
        now = int(self.clock() / self.tick)
        if self._last is None:
            self._last = now - 1
        ran = 0
        for n in range(self._last + 1, now + 1)[-self.slots:]:
            self.run_slot(n % self.slots)
            ran += 1
        self._last = now
        return ran

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='health-probes')
        self._thread.start()
        return self

    def _loop(self):
        while not self._stopped.wait(self.tick / 2):
            try:
                self.step()
            except Exception:
                LOG.exception('Health probe scheduling failed')

    def stop(self):
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
