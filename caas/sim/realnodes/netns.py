"""Network namespaces of real nodes, and the TCP relays that cross them.

Each simulated Neutron network that holds a real node becomes a network
namespace with a bridge (``br0``) on the subnet's gateway address; each
node is a namespace whose ``eth0`` is one end of a veth pair, the other end
enslaved to that bridge. Nothing is created in the root namespace: the
veth is made directly between the two namespaces.

Sockets belong to the namespace of the thread that created them. A
``SocketFactory`` is a thread parked in one namespace (``setns`` acts on
the calling thread only) that makes sockets on request; the relays then
use those sockets from ordinary threads. That is how the root namespace
reaches a node (a floating IP's listener connects from inside the
network's namespace) and how nodes reach the simulated cloud (a listener
inside the network's namespace relays to the cloud on 127.0.0.1), with no
route, address or firewall rule added to the root namespace.
"""

import ctypes
import logging
import os
import queue
import socket
import subprocess
import threading

LOG = logging.getLogger(__name__)
CLONE_NEWNET = 0x40000000
NETNS_DIR = '/run/netns'
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args, netns=None, check=True):
    """Run ``ip`` (in ``netns`` when given); CalledProcessError on failure."""
    cmd = ['ip'] + (['-n', netns] if netns else []) + list(args)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and result.returncode:
        raise subprocess.CalledProcessError(result.returncode, cmd,
                                            result.stdout, result.stderr)
    return result.stdout


def exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def add(name):
    ip('netns', 'add', name)
    ip('link', 'set', 'lo', 'up', netns=name)


def delete(name):
    if exists(name):
        ip('netns', 'delete', name, check=False)


def _setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, 'setns %s: %s' % (path, os.strerror(err)))
    finally:
        os.close(fd)


class SocketFactory(object):
    """A thread living in a network namespace that makes sockets there."""

    def __init__(self, name):
        self.name = name
        self._requests = queue.Queue()
        ready = queue.Queue()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), daemon=True,
            name='netns-%s' % name)
        self._thread.start()
        error = ready.get(timeout=10)
        if error is not None:
            raise error

    def _run(self, ready):
        try:
            _setns(os.path.join(NETNS_DIR, self.name))
        except OSError as exc:
            ready.put(exc)
            return
        ready.put(None)
        while True:
            item = self._requests.get()
            if item is None:
                return
            func, reply = item
            try:
                reply.put((True, func()))
            except Exception as exc:  # handed to the caller
                reply.put((False, exc))

    def call(self, func):
        reply = queue.Queue()
        self._requests.put((func, reply))
        ok, value = reply.get(timeout=30)
        if not ok:
            raise value
        return value

    def listen(self, address, port):
        def make():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
            return sock
        return self.call(make)

    def connect(self, address, port, timeout=10):
        """A socket connected from inside the namespace. The connect runs
        in the caller's thread: only the socket's creation needs the
        namespace."""
        sock = self.call(lambda: socket.socket(socket.AF_INET,
                                               socket.SOCK_STREAM))
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except OSError:
            sock.close()
            raise
        sock.settimeout(None)
        return sock

    def stop(self):
        self._requests.put(None)


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


class Relay(object):
    """Accept on ``listener``; join each connection to ``connect()``."""

    def __init__(self, listener, connect, label):
        self.listener = listener
        self.connect = connect
        self.label = label
        self._conns = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name='relay-%s' % label)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()

    def _serve(self, client):
        try:
            upstream = self.connect()
        except OSError as exc:
            LOG.debug('relay %s: upstream refused: %s', self.label, exc)
            client.close()
            return
        with self._lock:
            if self._closed:
                client.close()
                upstream.close()
                return
            self._conns.update((client, upstream))
        back = threading.Thread(target=_pump, args=(upstream, client),
                                daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        with self._lock:
            self._conns.difference_update((client, upstream))
        client.close()
        upstream.close()

    def close(self):
        with self._lock:
            self._closed = True
            conns = list(self._conns)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
