"""The built-in WSGI server (waitress), stoppable for caas-all and tests.

Production deployments may run ``caas.api.wsgi:init_application`` under
uwsgi or mod_wsgi instead; ``caas-api`` uses this server.
"""

import threading

from oslo_log import log as logging
from waitress import buffers
from waitress import channel
import waitress.server
import waitress.task
from waitress import utilities

LOG = logging.getLogger(__name__)

# A body at least this long is sent from the application's own bytes
# object instead of being copied into waitress's buffers first.
ZERO_COPY_BYTES = 64 * 1024


class BytesBuffer(buffers.ReadOnlyFileBasedBuffer):
    """An outgoing body held in one bytes object, sent without a copy.

    waitress copies every body into a buffer of its own, then copies it
    out again, in slices as long as the socket's send buffer (4 MiB on
    loopback), once more for every partial send: a 700 kB list cost ~3
    copies of itself before the kernel's. This one hands the socket
    slices of the application's object (memoryviews). waitress treats it
    as it treats a ``wsgi.file_wrapper``: its own outbuf, closed once
    sent.
    """

    def __init__(self, data):
        # Not ReadOnlyFileBasedBuffer.__init__: there is no file.
        self._view = memoryview(data)
        self._sent = 0
        self.remain = len(data)

    def prepare(self, size=None):
        return self.remain

    def get(self, numbytes=-1, skip=False):
        if numbytes < 0 or numbytes > self.remain:
            numbytes = self.remain
        chunk = self._view[self._sent:self._sent + numbytes]
        if skip:
            self.skip(numbytes)
        return chunk

    def skip(self, numbytes, allow_prune=0):
        if numbytes > self.remain:
            raise ValueError("Can't skip %d bytes in buffer of %d bytes" %
                             (numbytes, self.remain))
        self._sent += numbytes
        self.remain -= numbytes

    def close(self):
        # Slices handed to the socket may still be referenced: drop the
        # view, do not release it under them.
        self._view = memoryview(b'')
        self.remain = 0


class Channel(channel.HTTPChannel):
    """waitress's channel, sending long bodies with :class:`BytesBuffer`,
    and not writable to the main loop while a thread is sending on it.

    While a worker thread sends a body (``_flush_some``, holding the
    channel's output lock; the send itself lets go of the interpreter
    lock), waitress's loop found the channel writable - it has output
    and the socket has room - woke from ``select()`` at once, failed to
    take the output lock, asked every channel ``readable()`` and
    ``writable()`` again and went back to ``select()``: it spun for as
    long as the send lasted, taking the interpreter lock from the worker
    threads. The worker does not need it: whatever it leaves unsent
    (socket full, an error) it hands to the loop with ``pull_trigger()``
    after the send, and the loop then finds the channel writable.
    """

    _sending = False

    def writable(self):
        if self._sending:
            return False
        return super().writable()

    def _flush_some(self, do_close=True):
        self._sending = True
        try:
            return super()._flush_some(do_close=do_close)
        finally:
            self._sending = False

    def write_soon(self, data):
        if data.__class__ is bytes and len(data) >= ZERO_COPY_BYTES:
            data = BytesBuffer(data)
        return super().write_soon(data)


class _HttpDate:
    """waitress's ``build_http_date``, made once per second.

    waitress formats the ``Date`` header of every response from the
    task's start time (``time.gmtime`` and a ``%`` format); the text
    changes once a second. This keeps the text of the last second seen
    (one pair, swapped whole: threads read it without a lock; a stale
    pair only misses) and asks waitress's own function for a new second,
    so the characters are waitress's.
    """

    def __init__(self, build=utilities.build_http_date):
        self._build = build
        self._last = (None, None)

    def __call__(self, when):
        # gmtime() drops the fraction: the second is the key (a task's
        # start time, never before 1970).
        second = int(when)
        last = self._last
        if last[0] == second:
            return last[1]
        text = self._build(when)
        self._last = (second, text)
        return text


def _use_http_date_cache():
    if not isinstance(waitress.task.build_http_date, _HttpDate):
        waitress.task.build_http_date = _HttpDate()


def _listeners(server):
    """The listening dispatchers of a waitress server: itself, or those of
    a MultiSocketServer (several addresses)."""
    if isinstance(server, waitress.server.MultiSocketServer):
        return [d for d in server.map.values()
                if isinstance(d, waitress.server.BaseWSGIServer)]
    return [server]


class Server:
    """A waitress server running in a background thread.

    ``port`` is the bound port (useful when asked for port 0). ``ident``
    names the server (its ``Server`` header, its thread, its log lines);
    ``options`` are more of waitress's, over caas-api's own.
    """

    def __init__(self, app, host, port, threads, sock=None, ident='caas-api',
                 **options):
        _use_http_date_cache()
        where = {'sockets': [sock]} if sock is not None else \
            {'host': host, 'port': port}
        options = dict({
            'clear_untrusted_proxy_headers': True,
            # Reading ahead is what lets waitress notice that a client went
            # away (environ['waitress.client_disconnected']): an event
            # stream then frees its thread at once.
            'channel_request_lookahead': 1}, **options)
        self.ident = ident
        self._server = waitress.server.create_server(
            app, threads=threads, ident=ident, **where, **options)
        for listener in _listeners(self._server):
            listener.channel_class = Channel
        self.host = self._server.effective_host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run,
                                        name=ident, daemon=True)

    @property
    def url(self):
        return 'http://%s:%d' % (self.host, self.port)

    def start(self):
        self._thread.start()
        LOG.info('%s listening on %s', self.ident, self.url)
        return self

    def stop(self, timeout=5):
        """Close the listener and open connections; stop the workers."""
        # The loop thread itself closes every dispatcher (closing them from
        # here would race its select()); an empty socket map ends the loop.
        if self._thread.is_alive():
            try:
                self._server.trigger.pull_trigger(self._close_all)
            except OSError:
                # The loop closed its trigger already: it is shutting down.
                pass
        else:
            self._close_all()
        self._server.task_dispatcher.shutdown(timeout=timeout)
        if self._thread.ident is not None:
            # (A server never started has no thread to wait for.)
            self._thread.join(timeout)
        LOG.info('%s on %s stopped', self.ident, self.url)

    def _close_all(self):
        for channel in list(self._server._map.values()):
            try:
                channel.close()
            except OSError:
                pass

    def wait(self):
        self._thread.join()


def serve(app, host, port, threads=8, sock=None):
    """Start serving ``app`` in the background; returns a started Server.

    :param sock: a listening socket to accept on instead of binding
        ``host``:``port`` (the worker processes of ``caas-api`` share one).
    """
    return Server(app, host, port, threads, sock=sock).start()

