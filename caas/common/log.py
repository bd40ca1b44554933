"""Logging set up as oslo.log does it, with its formatter's times made once
per second and its per-record work done once.

oslo.log's ``ContextFormatter`` makes, for every record, an ISO 8601 time
(``isotime``: a new ``dateutil`` local zone and its offset looked up) and
``asctime`` (``time.localtime`` and ``strftime``), though both change only
once a second but for the fraction. :class:`ContextFormatter` keeps the
text of the current second and adds the fraction: the same characters for
every record (a test compares both formatters over times with and without
a fraction, and across a change of the local offset). oslo.log also asks
the request context for its logging values twice per record (once for the
record, once for ``user_identity``) and parses its format string into a
new ``PercentStyle`` per record: here the values are asked for once and
used for both, and the style of each format string is kept (the same
characters: a test compares both formatters over the configurations an
operator can set). Handlers that
oslo.log set up with its own formatter get this one; a formatter an
operator named (``log_config_append``) is left alone.
"""

import datetime
import logging
import time

from dateutil import tz
from oslo_context import context as context_utils
from oslo_log import formatters
from oslo_log import log as oslo_logging

_DEFAULTED = ('instance', 'color', 'user_identity', 'resource', 'user_name',
              'project_name', 'global_request_id')


class ContextFormatter(formatters.ContextFormatter):
    """oslo.log's formatter, each second's time text made once."""

    # (second key, text): one pair, swapped whole (threads read it
    # without a lock; a stale pair only misses).
    _asctime = (None, None)
    _isotime = (None, None)
    # format string -> its PercentStyle (a handful: the context and the
    # default format, each with the debug suffix or an error summary).
    _styles = {}

    def format(self, record):
        """oslo.log's ``ContextFormatter.format``, step by step, but for
        the context's values asked for once and the parsed format string
        kept."""
        record.project = self.project
        record.version = self.version
        conf = self.conf
        instance_extra = ''
        instance = getattr(record, 'instance', None)
        instance_uuid = getattr(record, 'instance_uuid', None)
        context = record.__dict__.get('context', context_utils.get_current())
        values = None
        if context:
            values = formatters._dictify_context(context)
            if type(record) is logging.LogRecord:
                record.__dict__.update(values)
            else:
                for key, value in values.items():
                    setattr(record, key, value)
        if instance:
            try:
                instance_extra = conf.instance_format % instance
            except TypeError:
                instance_extra = instance
        elif instance_uuid:
            instance_extra = conf.instance_uuid_format % {
                'uuid': instance_uuid}
        elif context:
            instance = getattr(context, 'instance', None)
            instance_uuid = getattr(context, 'instance_uuid', None)
            resource_uuid = getattr(context, 'resource_uuid', None)
            if instance:
                instance_extra = conf.instance_format % {'uuid': instance}
            elif instance_uuid:
                instance_extra = conf.instance_uuid_format % {
                    'uuid': instance_uuid}
            elif resource_uuid:
                instance_extra = conf.instance_uuid_format % {
                    'uuid': resource_uuid}
        record.instance = instance_extra
        fields = record.__dict__
        for key in _DEFAULTED:
            if key not in fields:
                fields[key] = ''
        if context:
            record.user_identity = (
                conf.logging_user_identity_format %
                formatters._ReplaceFalseValue(values))
        if fields.get('request_id'):
            fmt = conf.logging_context_format_string
        else:
            fmt = conf.logging_default_format_string
        if record.exc_info:
            record.exc_text = self.formatException(record.exc_info,
                                                   record=record)
        record.error_summary = formatters._get_error_summary(record)
        if '%(error_summary)s' in fmt:
            record.error_summary = record.error_summary or '-'
        elif record.error_summary:
            fmt += ': %(error_summary)s'
        if record.levelno == logging.DEBUG and \
                conf.logging_debug_format_suffix:
            fmt += ' ' + conf.logging_debug_format_suffix
        self._compute_iso_time(record)
        style = self._styles.get(fmt)
        if style is None:
            style = logging.PercentStyle(fmt)
            # Swapped whole: threads read it without a lock.
            styles = dict(self._styles)
            styles[fmt] = style
            ContextFormatter._styles = styles
        self._style = style
        self._fmt = style._fmt
        try:
            return logging.Formatter.format(self, record)
        except TypeError as err:
            record.msg = ('Error formatting log line msg=%r err=%r' % (
                record.msg, err)).replace('%', '*')
            return logging.Formatter.format(self, record)

    def formatTime(self, record, datefmt=None):
        ct_key = (int(record.created), datefmt, self.converter)
        known = self._asctime
        if known[0] == ct_key:
            s = known[1]
        else:
            s = time.strftime(datefmt or self.default_time_format,
                              self.converter(record.created))
            self._asctime = (ct_key, s)
        if not datefmt and self.default_msec_format:
            s = self.default_msec_format % (s, record.msecs)
        return s

    def _compute_iso_time(self, record):
        local = datetime.datetime.fromtimestamp(record.created)
        # The second as the fraction rounded it, and the fold (an hour
        # that repeats when the offset goes back): both pick the offset.
        key = (local.replace(microsecond=0), local.fold)
        known = self._isotime
        if known[0] == key:
            whole, offset = known[1]
        else:
            text = key[0].replace(tzinfo=tz.tzlocal()).isoformat()
            whole, offset = text[:19], text[19:]
            self._isotime = (key, (whole, offset))
        if local.microsecond:
            isotime = '%s.%06d%s' % (whole, local.microsecond, offset)
        else:
            isotime = whole + offset
        if record.created == int(record.created):
            # As oslo.log: a whole second gets its '.000000' back.
            isotime = '%s.000000%s' % (isotime[:-6], isotime[-6:])
        record.isotime = isotime


def use_cached_times(logger=None):
    """Give the handlers of ``logger`` (the root logger) that format with
    oslo.log's own ``ContextFormatter`` :class:`ContextFormatter`
    instead, keeping every setting of theirs."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if type(handler.formatter) is formatters.ContextFormatter:
            handler.formatter.__class__ = ContextFormatter


def setup(conf, project):
    """oslo.log's ``setup``, then :func:`use_cached_times`."""
    oslo_logging.setup(conf, project)
    use_cached_times()
