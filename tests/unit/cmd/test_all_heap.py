"""caas-all, caas-conductor and caas-cloudsim move the heap they started
with out of the collector's reach once started."""

import gc
import types

import pytest

from caas import cmd
from caas.cmd import all as caas_all
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


# caas-conductor and caas-cloudsim, once started, settle their heap too;
# a start that fails settles nothing.

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


# (where the entry point finds its service, the name of its factory,
# the entry point's module)
SERVICES = {'caas-conductor': (service, 'ConductorService', cmd_conductor),
            'caas-cloudsim': (cmd_cloudsim, 'build_server', cmd_cloudsim)}


def _run_service(monkeypatch, name, fail=None):
    owner, factory, module = SERVICES[name]
    events, made = [], []
    monkeypatch.setattr(cmd, 'prepare', lambda *a, **kw: None)

    def wait(_name):
        events.append('wait')
        events.append(gc.get_freeze_count() > 0 and not any(
            obj is made[0] for obj in gc.get_objects()))
        events.append(gc.get_threshold() == cmd.GC_THRESHOLDS)
    monkeypatch.setattr(cmd, 'wait_for_stop_signal', wait)
    monkeypatch.setattr(owner, factory, lambda: _Service(events, made, fail))
    return events, made, lambda: module.main([])


@pytest.mark.parametrize('name', sorted(SERVICES))
def test_a_started_service_settles_its_heap_before_serving(
        monkeypatch, unfrozen, name):
    assert gc.get_freeze_count() == 0
    events, made, run = _run_service(monkeypatch, name)
    assert run() in (0, None)
    assert events == ['start', 'wait', True, True, 'stop']
    assert made[0].self is made[0]


@pytest.mark.parametrize('name', sorted(SERVICES))
def test_a_service_that_fails_to_start_settles_nothing(monkeypatch,
                                                       unfrozen, name):
    events, _made, run = _run_service(monkeypatch, name,
                                      fail=RuntimeError('no broker'))
    with pytest.raises(RuntimeError):
        run()
    assert events == ['start']
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() != cmd.GC_THRESHOLDS
