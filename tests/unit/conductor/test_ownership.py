"""Who is dead and what is orphaned, judged on the observer's own clock."""

import collections

from caas.conductor.ownership import LivenessObserver

Op = collections.namedtuple('Op', 'id owner epoch kind cluster_id state')


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _observer(clock):
    return LivenessObserver('me', heartbeat_timeout=10, unclaimed_timeout=5,
                            clock=clock)


def test_a_host_is_dead_once_its_count_stops_for_the_timeout():
    clock = Clock()
    obs = _observer(clock)
    assert obs.observe_hosts({'a': 1, 'b': 1}) == set()
    clock.now += 6
    assert obs.observe_hosts({'a': 4, 'b': 1}) == set()
    clock.now += 5
    assert obs.observe_hosts({'a': 6, 'b': 1}) == {'b'}
    assert obs.live() == ['a', 'me']


def test_a_count_that_moves_again_brings_a_host_back():
    clock = Clock()
    obs = _observer(clock)
    obs.observe_hosts({'b': 1})
    clock.now += 11
    assert obs.observe_hosts({'b': 1}) == {'b'}
    assert obs.observe_hosts({'b': 2}) == set()


def test_this_conductor_never_declares_itself_dead():
    clock = Clock()
    obs = _observer(clock)
    obs.observe_hosts({'me': 1})
    clock.now += 60
    assert obs.observe_hosts({'me': 1}) == set()


def test_no_timestamps_are_compared_between_hosts():
    # The reports carry counts only: a host whose clock is hours off is
    # judged by how its count moves on this host's clock.
    clock = Clock()
    obs = _observer(clock)
    for i in range(20):
        assert obs.observe_hosts({'skewed': i}) == set()
        clock.now += 2


def test_orphans_are_unowned_ops_past_the_limit_and_ops_of_dead_hosts():
    clock = Clock()
    obs = _observer(clock)
    fresh = Op('fresh', None, 0, 'cluster_create', 'c1', 'PENDING')
    lost = Op('lost', None, 0, 'cluster_create', 'c2', 'PENDING')
    alive = Op('alive', 'a', 1, 'cluster_create', 'c3', 'RUNNING')
    dead = Op('dead', 'b', 1, 'cluster_create', 'c4', 'RUNNING')
    gone = Op('gone', 'vanished', 3, 'cluster_delete', 'c5', 'RUNNING')
    assert obs.orphans([lost, alive, dead, gone], {'a': 1, 'b': 1}) == []
    clock.now += 6
    assert obs.orphans([fresh, lost, alive, dead, gone],
                       {'a': 2, 'b': 1}) == [lost]
    clock.now += 5
    found = obs.orphans([fresh, lost, alive, dead, gone], {'a': 3, 'b': 1})
    assert [op.id for op in found] == ['fresh', 'lost', 'dead', 'gone']


def test_a_restarted_observer_waits_a_full_timeout_before_judging():
    clock = Clock()
    obs = _observer(clock)
    dead = Op('dead', 'b', 1, 'cluster_create', 'c4', 'RUNNING')
    assert obs.orphans([dead], {'b': 7}) == []
    clock.now += 9.9
    assert obs.orphans([dead], {'b': 7}) == []
    clock.now += 0.1
    assert obs.orphans([dead], {'b': 7}) == [dead]
