"""Several ``caas-api`` processes on one port (``[api] workers``).

One Python process runs Python code on one core at a time, so a busy API
in one process answers at the pace of one core whatever its threads. The
parent binds one listening socket per worker on the same address
(``SO_REUSEPORT``) and forks the workers; each accepts on its own socket
and builds its own application after the fork (its own database pool and
broker connections: none of them may cross a fork). The kernel spreads
new connections over the sockets; on one shared socket the process that
happened to be waiting in ``select()`` took them, and 16 keep-alive
clients were seen split 2/14 between two workers, one of them serving
seven times the other's load. The parent keeps every socket open, so the
connections that arrive for a worker while it is dead wait in its
socket's queue for the worker started in its place instead of being
reset. The parent only supervises: a worker that dies is started again,
and SIGTERM or SIGINT stops them all.
"""

import gc
import os
import signal
import socket
import threading
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# A worker that dies sooner than this after its start is restarted only
# after this long, so a worker that cannot start does not spin.
RESTART_DELAY = 1.0


def count(option):
    """Worker processes for ``[api] workers`` (0: one per CPU)."""
    return option if option > 0 else (os.cpu_count() or 1)


def _listener(family, address, backlog, reuse_port):
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def listen(host, port, count, backlog=1024):
    """``count`` bound, listening TCP sockets on one address, one for each
    worker (``SO_REUSEPORT``; port 0: one free port for all). A port some
    other socket listens on is refused (``OSError``), as it was with one
    socket. Where the platform has no ``SO_REUSEPORT``, one socket shared
    by all.
    """
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                              flags=socket.AI_PASSIVE)[0]
    if not hasattr(socket, 'SO_REUSEPORT'):
        return [_listener(info[0], info[4], backlog, False)] * count
    # Bound once without SO_REUSEPORT first: a port that another process
    # listens on (a caas-api still running, with SO_REUSEPORT sockets of
    # the same user) is refused as before, instead of being joined and
    # its connections shared with it.
    probe = _listener(info[0], info[4], backlog, False)
    address = probe.getsockname()
    probe.close()
    socks = []
    try:
        for _ in range(count):
            socks.append(_listener(info[0], address, backlog, True))
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def settle_heap():
    """Move every object alive now out of the garbage collector's reach.

    Called once the application is built, before the first request: the
    modules, configuration and application objects (~160,000 in a worker)
    live as long as the process, yet every full collection walked them
    all, holding the interpreter lock meanwhile: pauses of 0.1 to 1 s,
    one every few thousand requests under load, each stalling every
    request in flight in that process. Garbage among them is collected first.
    """
    gc.collect()
    gc.freeze()


def _stop_with(parent):
    """A worker whose parent died (even by SIGKILL) stops too: nothing
    else would ever stop it, and it would keep the port."""
    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        LOG.warning('caas-api parent %d is gone; worker %d stops', parent,
                    os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name='parent-watch', daemon=True).start()


class Supervisor:
    """Forks a worker process per socket running ``serve(sock)`` and keeps
    them: worker ``n`` (and any started in its place) accepts on
    ``socks[n]``.

    :param socks: listening sockets from :func:`listen`, one per worker.
    :param serve: run in each worker with its socket; returns when the
        worker should exit (it is given SIGTERM by the parent).
    """

    def __init__(self, socks, serve):
        self.socks = list(socks)
        self.workers = len(self.socks)
        self.serve = serve
        self.children = {}     # pid -> (slot, started)
        self._stopping = False

    def _spawn(self, slot):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _stop_with(os.getppid())
                sock = self.socks[slot]
                for other in self.socks:
                    # The other workers' sockets stay open in the parent.
                    if other is not sock:
                        other.close()
                self.serve(sock)
            except Exception:
                LOG.exception('caas-api worker %d failed', slot)
                code = 1
            finally:
                os._exit(code)
        self.children[pid] = (slot, time.monotonic())
        LOG.info('caas-api worker %d started (pid %d)', slot, pid)

    def _stop(self, signum, _frame):
        LOG.info('Signal %d received, stopping the caas-api workers', signum)
        self._stopping = True

    def run(self):
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for slot in range(self.workers):
            self._spawn(slot)
        while not self._stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.2)
                continue
            slot, started = self.children.pop(pid)
            if self._stopping:
                break
            LOG.warning('caas-api worker %d (pid %d) exited with status %d; '
                        'starting it again', slot, pid, status)
            if time.monotonic() - started < RESTART_DELAY:
                time.sleep(RESTART_DELAY)
            self._spawn(slot)
        self.stop()

    def stop(self, timeout=15):
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.pop(pid, None)
        deadline = time.monotonic() + timeout
        while self.children and time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.1)
            else:
                self.children.pop(pid, None)
        for pid in list(self.children):
            LOG.warning('caas-api worker pid %d did not stop; killing it',
                        pid)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.children.clear()
        for sock in self.socks:
            sock.close()
