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


# The configurations an operator can set, each a whole set of options.
_OPERATOR_CONFIGS = [
    {},
    {'logging_context_format_string':
        '%(asctime)s %(process)d %(levelname)s %(name)s [%(request_id)s '
        '%(user)s %(project)s %(user_name)s %(project_name)s] '
        '%(instance)s%(message)s'},
    {'logging_context_format_string':
        '%(isotime)s %(request_id)s %(global_request_id)s '
        '%(user_identity)s %(resource)s %(color)s %(error_summary)s '
        '%(message)s',
     'logging_user_identity_format': '%(user)s/%(project)s/%(roles)s',
     'logging_default_format_string':
        '%(isotime)s - %(user_identity)s %(message)s'},
    {'logging_debug_format_suffix': '[from %(funcName)s %(lineno)d]',
     'logging_exception_prefix': '%(asctime)s TRACE %(name)s ',
     'instance_uuid_format': '<%(uuid)s> '},
]


def _contexts():
    from caas.common import context
    return [
        None,
        context.RequestContext(request_id='req-1', overwrite=False),
        context.RequestContext(user_id='u1', project_id='p1',
                               roles=['reader', 'member'],
                               request_id='req-2', overwrite=False),
        context.RequestContext(user_id='ü', project_id='проект',
                               user_name='Jürgen', project_name='日本',
                               request_id='req-3', resource_uuid='r-9',
                               global_request_id='req-g',
                               auth_token='secret', overwrite=False),
        context.RequestContext(user_id='u1', project_id='p1',
                               overwrite=False),
    ]


def _records(ctx, how):
    """The records one scenario logs: INFO with %-dict arguments (the
    access line), DEBUG, a WARNING while handling an error, an ERROR with
    exc_info, non-ASCII text; the context current in the thread or given
    as ``extra``."""
    extra = {'context': ctx} if how == 'extra' and ctx else {}
    try:
        raise ValueError('kaputt: ü')
    except ValueError:
        import sys
        exc = sys.exc_info()
        out = []
        for level, msg, args, exc_info, more in [
                (logging.INFO, '%(method)s %(path)s status=%(status)d',
                 ({'method': 'GET', 'path': '/v1/clusters/ä',
                   'status': 200},), None, {}),
                (logging.DEBUG, 'debug %s', ('ß',), None, {}),
                (logging.WARNING, 'warned', (), None, {}),
                (logging.ERROR, 'failed %d', (3,), exc, {}),
                (logging.INFO, 'instance', (), None,
                 {'instance_uuid': 'i-1'})]:
            record = logging.LogRecord('caas.x', level, __file__, 7, msg,
                                       args, exc_info, func='fn')
            record.created = 1700000000.25
            record.msecs = 250.0
            record.__dict__.update(extra)
            record.__dict__.update(more)
            out.append(record)
        return out


@pytest.mark.parametrize('options', _OPERATOR_CONFIGS)
@pytest.mark.parametrize('how', ['current', 'extra'])
def test_same_line_as_oslo_log_for_every_configuration(conf, options,
                                                       how):
    from oslo_context import context as context_utils
    caas_conf.register_log_opts()
    for name, value in options.items():
        conf(name, value)
    theirs = formatters.ContextFormatter(config=CONF)
    ours = log.ContextFormatter(config=CONF)
    lines = 0
    for ctx in _contexts():
        if how == 'current' and ctx is not None:
            ctx.update_store()
        elif hasattr(context_utils._request_store, 'context'):
            del context_utils._request_store.context
        try:
            # Twice: the second time from the kept format strings.
            for _ in range(2):
                for mine, other in zip(_records(ctx, how),
                                       _records(ctx, how)):
                    expected = theirs.format(other)
                    got = ours.format(mine)
                    assert got == expected
                    assert got.encode('utf-8') == expected.encode('utf-8')
                    lines += 1
        finally:
            if hasattr(context_utils._request_store, 'context'):
                del context_utils._request_store.context
    assert lines == 2 * 5 * len(_contexts())


def test_context_values_asked_once_and_format_parsed_once_per_string(
        conf, monkeypatch):
    from caas.common import context
    caas_conf.register_log_opts()
    conf('logging_context_format_string', 'ctx %(user_identity)s '
         '%(message)s -- parsed once')
    asked = []
    real = context.RequestContext.get_logging_values
    monkeypatch.setattr(context.RequestContext, 'get_logging_values',
                        lambda self: asked.append(1) or real(self))
    parsed = []
    real_style = logging.PercentStyle

    class Style(real_style):
        def __init__(self, *args, **kwargs):
            parsed.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(logging, 'PercentStyle', Style)
    monkeypatch.setattr(log.ContextFormatter, '_styles', {})
    ours = log.ContextFormatter(config=CONF)
    ctx = context.RequestContext(user_id='u', project_id='p',
                                 request_id='req-1', overwrite=False)
    for i in range(40):
        record = logging.LogRecord('caas.x', logging.INFO, __file__, 1,
                                   'line %d', (i,), None)
        record.context = ctx
        assert ours.format(record) == 'ctx u p - - - - line %d -- ' \
            'parsed once' % i
    assert len(asked) == 40
    assert parsed == ['ctx %(user_identity)s %(message)s -- parsed once']
