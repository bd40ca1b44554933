"""caas-conductor and caas-cloudsim, once started, move the heap they
started with out of the collector's reach and make young collections
rarer, as caas-all does; a start that fails settles nothing."""

import gc
import types

import pytest

from caas import cmd
from caas.cmd import cloudsim as cmd_cloudsim
from caas.cmd import conductor as cmd_conductor
from caas.conductor import service


@pytest.fixture
def unfrozen():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    pass


class _Service:
    """Records its life; what it makes at its start is a live cycle."""

    def __init__(self, events, made, fail=None):
        self.events, self.made, self.fail = events, made, fail
        self.auth_url = 'http://127.0.0.1:1'
        self.cloud = types.SimpleNamespace(state_dir=None)

    def start(self):
        self.events.append('start')
        if self.fail is not None:
            raise self.fail
        node = Node()
        node.self = node
        self.made.append(node)
        return self

    def stop(self, *args, **kwargs):
        self.events.append('stop')


def _waiting(events, made):
    def wait(name):
        events.append('wait')
        events.append(gc.get_freeze_count() > 0 and not any(
            obj is made[0] for obj in gc.get_objects()))
        events.append(gc.get_threshold() == cmd.GC_THRESHOLDS)
    return wait


def _conductor_main(monkeypatch, fail=None):
    events, made = [], []
    monkeypatch.setattr(cmd, 'prepare', lambda *a, **kw: None)
    monkeypatch.setattr(cmd, 'wait_for_stop_signal', _waiting(events, made))
    monkeypatch.setattr(service, 'ConductorService',
                        lambda: _Service(events, made, fail))
    return events, made, lambda: cmd_conductor.main([])


def _cloudsim_main(monkeypatch, fail=None):
    events, made = [], []
    monkeypatch.setattr(cmd, 'prepare', lambda *a, **kw: None)
    monkeypatch.setattr(cmd, 'wait_for_stop_signal', _waiting(events, made))
    monkeypatch.setattr(cmd_cloudsim, 'build_server',
                        lambda: _Service(events, made, fail))
    return events, made, lambda: cmd_cloudsim.main([])


@pytest.mark.parametrize('main', [_conductor_main, _cloudsim_main])
def test_the_started_heap_is_settled_before_serving(monkeypatch, unfrozen,
                                                    main, capsys):
    assert gc.get_freeze_count() == 0
    events, made, run = main(monkeypatch)
    assert run() in (0, None)
    assert events == ['start', 'wait', True, True, 'stop']
    assert made[0].self is made[0]


@pytest.mark.parametrize('main', [_conductor_main, _cloudsim_main])
def test_a_failed_start_settles_nothing(monkeypatch, unfrozen, main, capsys):
    events, _made, run = main(monkeypatch, fail=RuntimeError('no broker'))
    with pytest.raises(RuntimeError):
        run()
    assert events == ['start']
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() != cmd.GC_THRESHOLDS
