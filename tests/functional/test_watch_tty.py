"""``caas-manage watch`` in a real pseudo-terminal, as an operator runs it."""

import os
import pty
import select
import signal
import subprocess
import sys
import time

from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status


class Terminal:
    """A command whose stdin, stdout and stderr are a pseudo-terminal."""

    def __init__(self, argv):
        self.leader, follower = pty.openpty()
        env = dict(os.environ, COLUMNS='160', LINES='40',
                   TERM='xterm-256color', PYTHONWARNINGS='ignore')
        env.pop('NO_COLOR', None)
        self.proc = subprocess.Popen(argv, stdin=follower, stdout=follower,
                                     stderr=follower, env=env,
                                     close_fds=True)
        os.close(follower)
        self.out = ''

    def read_until(self, predicate, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.out):
                return self.out
            ready, _, _ = select.select([self.leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.leader, 65536)
                except OSError:      # the child closed the terminal
                    chunk = b''
                if not chunk:
                    break
                self.out += chunk.decode('utf-8', 'replace')
            elif self.proc.poll() is not None:
                break
        assert predicate(self.out), self.out[-3000:]
        return self.out

    def wait(self, timeout=30):
        """Read to the end of the output; the exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.leader], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:          # the child closed the terminal
                break
            if not chunk:
                break
            self.out += chunk.decode('utf-8', 'replace')
        return self.proc.wait(timeout=10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.leader)


def _watch(aio, tmp_path, *args):
    conf = tmp_path / 'watch.conf'
    conf.write_text('[database]\nconnection = sqlite:///%s\n' %
                    os.path.join(aio.data_dir, 'caas.sqlite'))
    return Terminal([sys.executable, '-m', 'caas.cmd.manage',
                     '--config-file', str(conf), 'watch', '--interval',
                     '0.1'] + list(args))


def test_watch_shows_a_bar_advancing_to_the_end(aio, mc, tmp_path):
    aio.sim.cloud.knobs['server_boot_delay'] = 1.0
    make_template(mc)
    term = _watch(aio, tmp_path)
    try:
        # The first frame is drawn before anything runs.
        term.read_until(lambda o: 'No operation in progress' in o)
        cluster = mc.clusters.create(name='watched',
                                     cluster_template_id='k8s', node_count=2)
        out = term.read_until(lambda o: 'operation SUCCEEDED' in o)
        # A terminal, so rich redrew in place (cursor movements), with a bar.
        assert '\x1b[' in out and '━' in out
        assert 'watched' in out and 'cluster_create' in out
        # It followed the steps and the servers coming up, to the end.
        assert 'step %d/%d wait-stack-create' % _wait_step() in out
        assert 'servers have addresses' in out
        assert '100%' in out
        assert 'conductors' in out and '-all' in out
        # Ctrl-C ends it quietly.
        term.proc.send_signal(signal.SIGINT)
        assert term.wait() == 0
        assert 'Traceback' not in term.out
    finally:
        term.close()
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=30, poll=0.1)


def test_watch_of_a_failed_create_shows_why_and_exits_1(aio, mc, tmp_path):
    aio.sim.cloud.knobs['server_failure_rate'] = 1.0
    make_template(mc)
    cluster = mc.clusters.create(name='doomed', cluster_template_id='k8s',
                                 node_count=1)
    term = _watch(aio, tmp_path, 'doomed')
    try:
        # With a cluster it ends when the cluster's operation has ended,
        # whether it was still running when the watch began or not.
        assert term.wait(timeout=90) == 1
        assert 'operation FAILED' in term.out
        assert 'doomed: CREATE_FAILED' in term.out
    finally:
        term.close()
    assert mc.clusters.get(cluster.uuid).status == 'CREATE_FAILED'


def test_watch_of_an_unknown_cluster_says_so(aio, tmp_path):
    term = _watch(aio, tmp_path, 'ghost')
    try:
        assert term.wait() == 2
        assert 'ghost' in term.out
    finally:
        term.close()


def _wait_step():
    """(index, count) of the create flow's wait-stack-create step."""
    from caas.conductor import steps
    names = [step for _atom, step, _label in steps.steps_of('cluster_create')]
    return names.index('wait-stack-create') + 1, len(names)
