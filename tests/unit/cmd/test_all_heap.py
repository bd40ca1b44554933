"""caas-all moves the heap it started with out of the collector's reach."""

import gc
import types

import pytest

from caas import cmd
from caas.cmd import all as caas_all


@pytest.fixture
def unfrozen():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    pass


def _fake_aio(events, made, fail=None):
    class FakeAllInOne:
        api_url = 'http://127.0.0.1:1'
        data_dir = '/nonexistent'

        def __init__(self, *args, **kwargs):
            self.sim = type('Sim', (), {'auth_url': 'http://127.0.0.1:2',
                                        'cloud': None})()

        def start(self):
            events.append('start')
            if fail is not None:
                raise fail
            node = Node()
            node.self = node           # a cycle, alive: tracked by gc
            made.append(node)
            return self

        def stop(self):
            events.append('stop')
    return FakeAllInOne


def _run_main(monkeypatch, events, made, fail=None):
    monkeypatch.setattr(caas_all, 'AllInOne', _fake_aio(events, made, fail))
    monkeypatch.setattr(cmd, 'prepare', lambda *a, **kw: None)
    monkeypatch.setattr(cmd, 'real_nodes_base', lambda *a, **kw: None)
    monkeypatch.setattr(caas_all, '_real_banner', lambda aio: '')
    # What main() reads of the parsed command line.
    monkeypatch.setattr(caas_all, 'CONF', types.SimpleNamespace(
        sim=types.SimpleNamespace(real_nodes='', admin_password='pw'),
        all_real_nodes=False, all_host='127.0.0.1', all_port=1,
        all_data_dir='/nonexistent', all_sim_port=2))

    def wait(name):
        # While serving: what start() built is frozen, not walked.
        events.append('wait')
        events.append(gc.get_freeze_count() > 0 and not any(
            obj is made[0] for obj in gc.get_objects()))
    monkeypatch.setattr(cmd, 'wait_for_stop_signal', wait)
    return caas_all.main([])


def test_the_started_heap_is_frozen_before_serving(monkeypatch, unfrozen,
                                                   capsys):
    events, made = [], []
    assert gc.get_freeze_count() == 0
    assert _run_main(monkeypatch, events, made) == 0
    assert events == ['start', 'wait', True, 'stop']
    assert gc.get_threshold() == cmd.GC_THRESHOLDS
    assert made[0].self is made[0]
    assert 'caas is running' in capsys.readouterr().out


def test_a_failed_start_freezes_nothing(monkeypatch, unfrozen, capsys):
    events, made = [], []
    assert _run_main(monkeypatch, events, made,
                     fail=OSError('address in use')) == 1
    assert events == ['start', 'stop']
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() != cmd.GC_THRESHOLDS


def test_objects_made_after_the_start_are_collected(monkeypatch, unfrozen,
                                                    capsys):
    # Only what was alive at the start is frozen: the garbage cycles the
    # fill makes afterwards are still collected.
    events, made = [], []
    assert _run_main(monkeypatch, events, made) == 0
    later = Node()
    later.self = later
    later_id = id(later)
    del later
    gc.collect()
    assert not any(id(obj) == later_id and isinstance(obj, Node)
                   for obj in gc.get_objects())
