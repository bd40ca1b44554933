"""The memory of found references: callers missing the same reference
at once ask the cloud once and share its answer or its error; other
references are not held up; with the memory off each caller asks."""

import sys
import threading

import pytest

from caas.api import refcache
from caas.common import exceptions


class Cloud:
    """Look-ups that block until released, counted per key."""

    def __init__(self):
        self.asked = []
        self.release = threading.Event()
        self.answer = {'name': 'kp'}

    def lookup(self, key):
        def ask():
            self.asked.append(key)
            self.release.wait(30)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer
        return ask


def _in_find(thread):
    """Whether ``thread`` got into ``ReferenceCache.find`` (where, until
    the look-up under way is released, it asks or waits)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == 'find' and \
                frame.f_code.co_filename == refcache.__file__:
            return True
        frame = frame.f_back
    return False


def _at_once(cache, cloud, keys, flights=None):
    """find() of each key (shared as ``flights`` names, default the key)
    from a thread of its own while the look-ups are held; their answers or
    errors, in order."""
    flights = flights or keys
    out = [None] * len(keys)

    started = threading.Barrier(len(keys) + 1)

    def run(i, key):
        started.wait(30)
        try:
            out[i] = cache.find(key, cloud.lookup(flights[i]), flights[i])
        except Exception as exc:
            out[i] = exc
    threads = [threading.Thread(target=run, args=(i, key))
               for i, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    started.wait(30)
    # Every caller gets into find() and either asks or waits for the one
    # asking the same; the look-ups are released only then (a caller
    # coming late would find the answer remembered, and prove nothing).
    for _ in range(3000):
        if len(cloud.asked) >= len(set(flights)) and all(
                _in_find(thread) for thread in threads):
            break
        threading.Event().wait(0.01)
    cloud.release.set()
    for thread in threads:
        thread.join(30)
    return out


def test_callers_missing_one_reference_at_once_ask_once():
    cache = refcache.ReferenceCache(lambda: 10.0)
    cloud = Cloud()
    answers = _at_once(cache, cloud, [('u', 'kp')] * 8)
    assert cloud.asked == [('u', 'kp')]
    assert answers == [{'name': 'kp'}] * 8
    # Remembered: asked no more.
    assert cache.find(('u', 'kp'), cloud.lookup(('u', 'kp'))) == {
        'name': 'kp'}
    assert cloud.asked == [('u', 'kp')]


def test_other_references_are_asked_meanwhile():
    cache = refcache.ReferenceCache(lambda: 10.0)
    cloud = Cloud()
    keys = [('alice', 'kp'), ('carol', 'kp')] * 3
    answers = _at_once(cache, cloud, keys)
    assert sorted(cloud.asked) == [('alice', 'kp'), ('carol', 'kp')]
    assert answers == [{'name': 'kp'}] * 6


def test_an_error_is_shared_but_never_remembered():
    cache = refcache.ReferenceCache(lambda: 10.0)
    cloud = Cloud()
    cloud.answer = exceptions.NotFound()
    answers = _at_once(cache, cloud, [('u', 'kp')] * 4)
    assert cloud.asked == [('u', 'kp')]
    assert all(isinstance(a, exceptions.NotFound) for a in answers)
    # The next caller asks again, and what is found now is used at once.
    cloud.answer = {'name': 'kp'}
    assert cache.find(('u', 'kp'), cloud.lookup(('u', 'kp'))) == {
        'name': 'kp'}
    assert len(cloud.asked) == 2


def test_a_look_up_is_shared_only_with_the_same_token():
    """Two tokens of one user miss the same keypair at once: each asks,
    and the 401 a revoked token gets is never the valid token's answer."""

    class Cloud401(Cloud):
        def lookup(self, key):
            if key[-1] != 'revoked':
                return super().lookup(key)

            def ask():
                self.asked.append(key)
                self.release.wait(30)
                raise exceptions.CloudUnauthorized(service='compute',
                                                   err='revoked')
            return ask
    cache = refcache.ReferenceCache(lambda: 10.0)
    cloud = Cloud401()
    key = ('u', 'kp')
    flights = [key + ('revoked',), key + ('valid',)] * 3
    answers = _at_once(cache, cloud, [key] * 6, flights)
    assert sorted(cloud.asked) == sorted(set(flights))
    for flight, answer in zip(flights, answers):
        if flight[-1] == 'revoked':
            assert isinstance(answer, exceptions.CloudUnauthorized)
        else:
            assert answer == {'name': 'kp'}


def test_with_the_memory_off_each_caller_asks():
    cache = refcache.ReferenceCache(lambda: 0)
    cloud = Cloud()
    answers = _at_once(cache, cloud, [('u', 'kp')] * 4)
    assert cloud.asked == [('u', 'kp')] * 4
    assert answers == [{'name': 'kp'}] * 4
    assert not cache._flights


@pytest.mark.parametrize('answer', [{'name': 'kp'}, exceptions.NotFound()])
def test_no_flight_is_left_behind(answer):
    cache = refcache.ReferenceCache(lambda: 10.0)
    cloud = Cloud()
    cloud.answer = answer
    cloud.release.set()
    try:
        cache.find(('u', 'kp'), cloud.lookup(('u', 'kp')))
    except exceptions.NotFound:
        pass
    assert not cache._flights
