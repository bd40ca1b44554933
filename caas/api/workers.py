"""Several ``caas-api`` processes on one port (``[api] workers``).

One Python process runs Python code on one core at a time, so a busy API
in one process answers at the pace of one core whatever its threads. The
parent binds the listening socket and forks the workers; each accepts on
that shared socket and builds its own application after the fork (its own
database pool and broker connections: none of them may cross a fork). The
parent only supervises: a worker that dies is started again, and SIGTERM
or SIGINT stops them all.
"""

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


def listen(host, port, backlog=1024):
    """A bound, listening TCP socket every worker accepts on."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                              flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(info[4])
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


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
    """Forks ``workers`` processes running ``serve(sock)`` and keeps them.

    :param serve: run in each worker with the shared socket; returns when
        the worker should exit (it is given SIGTERM by the parent).
    """

    def __init__(self, sock, workers, serve):
        self.sock = sock
        self.workers = workers
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
                self.serve(self.sock)
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
        self.sock.close()
