"""Logging set up as oslo.log does it, with its formatter's times made once
per second.

oslo.log's ``ContextFormatter`` makes, for every record, an ISO 8601 time
(``isotime``: a new ``dateutil`` local zone and its offset looked up) and
``asctime`` (``time.localtime`` and ``strftime``), though both change only
once a second but for the fraction. :class:`ContextFormatter` keeps the
text of the current second and adds the fraction: the same characters for
every record (a test compares both formatters over times with and without
a fraction, and across a change of the local offset). Handlers that
oslo.log set up with its own formatter get this one; a formatter an
operator named (``log_config_append``) is left alone.
"""

import datetime
import logging
import time

from dateutil import tz
from oslo_log import formatters
from oslo_log import log as oslo_logging


class ContextFormatter(formatters.ContextFormatter):
    """oslo.log's formatter, each second's time text made once."""

    # (second key, text): one pair, swapped whole (threads read it
    # without a lock; a stale pair only misses).
    _asctime = (None, None)
    _isotime = (None, None)

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
