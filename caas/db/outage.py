"""Telling a database outage from a bug, and riding a short one out.

A restart or failover of the database cuts every pooled connection: the
next statement fails with a driver error that SQLAlchemy wraps as
OperationalError / InterfaceError (or flags ``connection_invalidated``).
Such an error says nothing about the request or the flow, so the API answers
503 instead of 500, and the conductors repeat the statement instead of
failing the cluster. The pool's pre-ping (and the invalidation that follows
a disconnect) hands out working connections again once the server is back.
"""

import functools

from oslo_log import log as logging
import sqlalchemy.exc as sa_exc
import tenacity

from caas.conf import CONF

LOG = logging.getLogger(__name__)


def is_outage(exc):
    """True if ``exc`` (or what caused it) means the database is unreachable.

    TaskFlow wraps storage errors in its own exceptions; the cause chain is
    followed so that those count too.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sa_exc.DBAPIError) and (
                exc.connection_invalidated or isinstance(
                    exc, (sa_exc.OperationalError, sa_exc.InterfaceError))):
            return True
        if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
            return True
        # Only an explicit cause: an error merely raised while handling a
        # database error is not itself an outage.
        exc = getattr(exc, 'cause', None) or exc.__cause__
    return False


def _log_retry(state):
    LOG.warning('Database unavailable (%s); retrying %s',
                state.outcome.exception(),
                getattr(state.fn, '__qualname__', state.fn))


def call(fn, *args, **kwargs):
    """Call ``fn``, repeating it while the database is unavailable, for at
    most ``[conductor] db_retry_timeout`` seconds.

    Only statements that are safe to repeat go through here: conditional
    writes on (owner, epoch) and reads.
    """
    try:
        # The usual case costs no retry machinery (a conductor makes ~50
        # such calls per cluster it creates).
        return fn(*args, **kwargs)
    except Exception as exc:
        if not is_outage(exc):
            raise
        return retry_after(exc, is_outage, fn, args, kwargs, wait=0.1,
                           max_wait=2,
                           timeout=CONF.conductor.db_retry_timeout,
                           before_sleep=_log_retry)


def retry_after(failure, retry_on, fn, args, kwargs, wait, max_wait, timeout,
                before_sleep):
    """Go on after ``fn``'s first attempt failed with ``failure``: what a
    tenacity retry of ``fn`` (exponential wait from ``wait`` up to
    ``max_wait``, stop after ``timeout`` seconds) does after that
    attempt."""
    first = [failure]

    @functools.wraps(fn)
    def attempt(*args, **kwargs):
        if first:
            raise first.pop()
        return fn(*args, **kwargs)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(retry_on),
        wait=tenacity.wait_exponential(multiplier=wait, max=max_wait),
        stop=tenacity.stop_after_delay(timeout),
        before_sleep=before_sleep, reraise=True)
    return retrying(attempt, *args, **kwargs)
