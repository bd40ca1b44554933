"""caas.common.log: oslo.log's formatter with its times made once per
second writes the same characters as oslo.log's own."""

import logging
import time

import pytest
from oslo_log import formatters

from caas import conf as caas_conf
from caas.common import log
from caas.conf import CONF

FORMAT = '%(asctime)s.%(msecs)03d %(isotime)s %(levelname)s %(message)s'


@pytest.fixture
def zone(monkeypatch):
    """Run with the local zone ``name`` (one with a summer time)."""
    def use(name):
        monkeypatch.setenv('TZ', name)
        time.tzset()
    yield use
    monkeypatch.undo()
    time.tzset()


def _record(created):
    record = logging.LogRecord('caas.x', logging.INFO, __file__, 1,
                               'line %s', ('one',), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


# Whole seconds, fractions, a fraction that rounds up to the next second
# and one that rounds down to no fraction, around the end of summer time
# in Europe (2026-10-25 01:00 UTC: 03:00 local becomes 02:00 again).
EDGE = 1792890000.0
TIMES = [EDGE + delta for delta in (
    -3600.0, -3599.5, -1.0, -0.5, -0.0000001, 0.0, 0.0000001, 0.25,
    0.9999996, 1.0, 1.000001, 59.999999, 3599.0, 3600.0, 3600.5,
    # the same local second, once in summer time and once after
    -3599.75, 0.75)] + [
    1700000000.0, 1700000000.123456, 1700000000.5, 1700000001.0]


@pytest.mark.parametrize('name', ['Europe/Berlin', 'UTC',
                                  'America/St_Johns'])
@pytest.mark.parametrize('datefmt', [None, '%Y-%m-%d %H:%M:%S'])
def test_same_text_as_oslo_log_formatter(zone, conf, name, datefmt):
    caas_conf.register_log_opts()
    # Both: a request context left current in this thread by another
    # test picks the context format.
    conf('logging_default_format_string', FORMAT)
    conf('logging_context_format_string', FORMAT)
    zone(name)
    theirs = formatters.ContextFormatter(config=CONF, datefmt=datefmt)
    ours = log.ContextFormatter(config=CONF, datefmt=datefmt)
    texts = set()
    # Twice: the second pass is served from the remembered second, and in
    # another order (a second met again after another).
    for created in TIMES + TIMES[::-1]:
        expected = theirs.format(_record(created))
        assert ours.format(_record(created)) == expected, created
        texts.add(expected)
    assert len(texts) == len(set(TIMES))


def test_only_oslo_logs_own_formatter_is_replaced():
    class Operators(logging.Formatter):
        pass

    root = logging.getLogger('caas.test-log-root')
    handlers = [logging.NullHandler() for _ in range(3)]
    handlers[0].setFormatter(formatters.ContextFormatter(
        config=CONF, datefmt='%H'))
    handlers[1].setFormatter(Operators())
    for handler in handlers:
        root.addHandler(handler)
    try:
        log.use_cached_times(root)
    finally:
        for handler in handlers:
            root.removeHandler(handler)
    assert type(handlers[0].formatter) is log.ContextFormatter
    assert handlers[0].formatter.datefmt == '%H'
    assert type(handlers[1].formatter) is Operators
    assert handlers[2].formatter is None
