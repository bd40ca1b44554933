"""Which errors mean "the database is unreachable"."""

import pytest
import sqlalchemy.exc as sa_exc
from taskflow import exceptions as tf_exc

from caas.common import exceptions
from caas.db import outage


def _operational():
    return sa_exc.OperationalError('SELECT 1', {}, Exception('conn reset'))


def test_driver_connection_errors_are_an_outage():
    assert outage.is_outage(_operational())
    assert outage.is_outage(sa_exc.InterfaceError('SELECT 1', {},
                                                  Exception('closed')))


def test_taskflow_storage_failures_caused_by_one_are_an_outage():
    try:
        try:
            raise _operational()
        except sa_exc.OperationalError as e:
            tf_exc.raise_with_cause(tf_exc.StorageFailure, 'save failed',
                                    cause=e)
    except tf_exc.StorageFailure as wrapped:
        assert outage.is_outage(wrapped)


def test_bugs_and_refusals_are_not():
    assert not outage.is_outage(sa_exc.IntegrityError('INSERT', {},
                                                      Exception('dup')))
    assert not outage.is_outage(exceptions.FencedOut(operation='o',
                                                     owner='c', epoch=1))
    assert not outage.is_outage(ValueError('bug'))
    try:
        try:
            raise _operational()
        except sa_exc.OperationalError:
            raise KeyError('raised while handling it')
    except KeyError as exc:
        assert not outage.is_outage(exc)


def test_call_repeats_while_the_database_is_away(conf):
    conf('db_retry_timeout', 30, group='conductor')
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _operational()
        return 'done'
    assert outage.call(flaky) == 'done'
    assert len(calls) == 3


def test_call_gives_up_after_the_timeout_and_never_repeats_a_bug(conf):
    conf('db_retry_timeout', 0, group='conductor')
    calls = []

    def down():
        calls.append(1)
        raise _operational()
    with pytest.raises(sa_exc.OperationalError):
        outage.call(down)
    bugs = []

    def bug():
        bugs.append(1)
        raise ValueError('bug')
    with pytest.raises(ValueError):
        outage.call(bug)
    assert len(bugs) == 1
