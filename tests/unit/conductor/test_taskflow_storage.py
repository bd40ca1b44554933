"""What the runner changes in a flow's TaskFlow storage: its lock
(``engine.StorageLock``: one re-entrant lock for reads and writes,
exclusive between threads) and its saves' retry
(``engine.retry_saves_on_failure_only``)."""

import threading

import pytest
import taskflow.engines
from taskflow import exceptions as tf_exc
from taskflow import task
from taskflow.patterns import linear_flow
from taskflow.persistence.backends import impl_memory
from taskflow.utils import persistence_utils

from caas.common import exceptions
from caas.conductor import engine


def _held_elsewhere(take):
    """True when another thread cannot take ``take()`` without waiting."""
    got = []

    def other():
        lock = take()
        if lock.acquire(blocking=False):
            lock.release()
            got.append(True)
    t = threading.Thread(target=other)
    t.start()
    t.join()
    return not got


def test_a_writer_excludes_every_other_thread():
    lock = engine.StorageLock()
    with lock.write_lock():
        assert _held_elsewhere(lock.read_lock)
        assert _held_elsewhere(lock.write_lock)
    assert not _held_elsewhere(lock.read_lock)
    assert not _held_elsewhere(lock.write_lock)


def test_a_reader_excludes_writers_of_other_threads():
    lock = engine.StorageLock()
    with lock.read_lock():
        assert _held_elsewhere(lock.write_lock)


def test_the_running_thread_nests_its_reads_and_writes():
    lock = engine.StorageLock()
    with lock.write_lock():
        with lock.read_lock():
            with lock.write_lock():
                pass
        assert _held_elsewhere(lock.read_lock)
    assert not _held_elsewhere(lock.write_lock)


def test_taskflow_runs_a_flow_with_it():
    """TaskFlow's engine takes the storage's lock through ``lock`` and
    nests it (that the runner's flows get one is counted in
    test_create_cost: TaskFlow's own lock is no longer taken)."""
    class Noop(task.Task):
        def execute(self):
            pass
    eng = taskflow.engines.load(linear_flow.Flow('f').add(Noop('n')),
                                engine='serial')
    eng.storage._lock = engine.StorageLock()
    assert isinstance(eng.storage.lock, engine.StorageLock)
    eng.run()
    assert eng.storage.get_flow_state() == 'SUCCESS'


class _Failing(impl_memory.MemoryBackend):
    """A backend whose atom saves first raise what the test says."""

    def __init__(self):
        super().__init__()
        self.failures = []
        self.tries = 0

    def get_connection(self):
        conn = super().get_connection()
        update = conn.update_atom_details

        def update_atom_details(ad):
            self.tries += 1
            if self.failures:
                raise self.failures.pop(0)
            return update(ad)
        conn.update_atom_details = update_atom_details
        return conn


def _storage(backend):
    class Noop(task.Task):
        def execute(self):
            pass
    book, flow_detail = persistence_utils.temporary_flow_detail(backend)
    eng = taskflow.engines.load(linear_flow.Flow('f').add(Noop('n')),
                                flow_detail=flow_detail, book=book,
                                backend=backend, engine='serial')
    eng.compile()
    eng.prepare()
    engine.retry_saves_on_failure_only(eng.storage)
    backend.tries = 0
    return eng.storage


def test_a_save_that_fails_with_storagefailure_is_still_retried(
        monkeypatch):
    import tenacity
    monkeypatch.setattr(tenacity.nap, 'sleep', lambda seconds: None)
    backend = _Failing()
    storage = _storage(backend)
    backend.failures = [tf_exc.StorageFailure('1'),
                        tf_exc.StorageFailure('2')]
    storage.set_atom_state('n', 'RUNNING')
    assert backend.tries == 3
    assert storage.get_atom_state('n') == 'RUNNING'


def test_a_save_that_succeeds_is_tried_once_without_tenacity(monkeypatch):
    import tenacity
    backend = _Failing()
    storage = _storage(backend)
    calls = []
    real = tenacity.Retrying.__call__
    monkeypatch.setattr(tenacity.Retrying, '__call__',
                        lambda self, *a, **k: calls.append(1) or
                        real(self, *a, **k))
    storage.set_atom_state('n', 'RUNNING')
    assert backend.tries == 1
    assert calls == []


def test_a_lost_claim_is_raised_at_once():
    backend = _Failing()
    storage = _storage(backend)
    backend.failures = [exceptions.FencedOut(operation='o', owner='c',
                                             epoch=1)]
    with pytest.raises(exceptions.FencedOut):
        storage.set_atom_state('n', 'RUNNING')
    assert backend.tries == 1
