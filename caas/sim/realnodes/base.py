"""The real nodes' base root filesystem: what it needs, and its first build.

``caas-all --real-nodes`` (or ``[sim] real_nodes = auto``) calls
``ensure``: it names everything real nodes need and this machine lacks
(``requirements``), then builds the base on first use with the script the
package ships (``rootfs/build-node-rootfs.sh``, which
``tools/build-node-rootfs.sh`` runs from a checkout), drawing a progress
display from the output of debootstrap and apt. A finished base carries a
stamp and is never rebuilt.

``requirements`` takes the machine's facts as arguments (system name,
effective user, ``PATH``) so that every refusal can be tested on a machine
that has them all.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import time

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'rootfs',
                      'build-node-rootfs.sh')
STAMP = '.caas-node-rootfs'
AUTO = 'auto'
# Tools the node backend runs on the host, and the Debian package of each.
HOST_TOOLS = (('ip', 'iproute2'), ('nsenter', 'util-linux'),
              ('unshare', 'util-linux'), ('mount', 'mount'),
              ('chroot', 'coreutils'), ('nft', 'nftables'))
# What a base must hold for a node to boot its user data.
BASE_FILES = (('usr/bin/cloud-init', 'cloud-init'),
              ('usr/sbin/dockerd', 'docker.io'),
              ('usr/bin/tini', 'tini'),
              ('usr/local/bin/systemctl', "caas's systemctl stand-in"))
NEEDS = ('Real nodes need Linux, root, iproute2 (ip), util-linux (nsenter, '
         'unshare), nftables (nft: security groups) and a base root '
         'filesystem with Docker and cloud-init, built once from Debian '
         'packages (debootstrap; about 530 MB).')


class Unavailable(Exception):
    """Real nodes cannot run here; the message says what is missing."""


class BuildFailed(Unavailable):
    """The base could not be built; the message ends with the build's
    own last lines."""


def _script():
    # Through bash: an installed package need not keep the script's
    # executable bit.
    return [shutil.which('bash') or '/bin/bash', SCRIPT]


def default_path():
    """Where the build script puts the base by default."""
    return subprocess.run(_script() + ['--path'], capture_output=True,
                          text=True, check=True).stdout.strip()


def resolve(setting):
    """The base a ``[sim] real_nodes`` value names (``auto``: the
    default place)."""
    return default_path() if setting in (AUTO, True) else setting


def built(base):
    return bool(base) and os.path.exists(os.path.join(base, STAMP))


def which(tool, path=None):
    path = os.environ.get('PATH', os.defpath) if path is None else path
    for directory in path.split(os.pathsep):
        if directory and os.access(os.path.join(directory, tool), os.X_OK):
            return os.path.join(directory, tool)
    return None


def requirements(base, build=False, system=None, euid=None, path=None):
    """What real nodes need here and lack: a list of sentences (empty:
    nothing). ``build``: the base may be built now if it is missing."""
    system = os.uname().sysname if system is None else system
    euid = os.geteuid() if euid is None else euid
    if system != 'Linux':
        return ['Linux (this is %s)' % system]
    missing = []
    if euid != 0:
        missing.append('root (namespaces, mounts, cgroups; this is uid %d)'
                       % euid)
    for tool, package in HOST_TOOLS:
        if which(tool, path) is None:
            missing.append('%s (Debian package %s)' % (tool, package))
    if built(base):
        for name, package in BASE_FILES:
            if not os.path.lexists(os.path.join(base, name)):
                missing.append('%s in the base %s (%s): remove the base to '
                               'rebuild it' % (name, base, package))
    elif not build:
        missing.append('the base root filesystem %s: build it with '
                       'caas-all --real-nodes or tools/build-node-rootfs.sh'
                       % base)
    elif which('debootstrap', path) is None:
        missing.append('debootstrap (Debian package debootstrap) to build '
                       'the base root filesystem %s' % base)
    return missing


def check(base, build=False, **facts):
    missing = requirements(base, build=build, **facts)
    if missing:
        raise Unavailable('%s Missing here:\n  - %s' % (
            NEEDS, '\n  - '.join(missing)))


# Progress ----------------------------------------------------------------
_STEP = re.compile(r'build-node-rootfs: step (\d)/(\d): (.*)')
_DEBOOTSTRAP = re.compile(r'^I: (Retrieving|Validating|Extracting|'
                          r'Unpacking|Configuring|Installing) (\S+)')
_APT = re.compile(r'^(dlstatus|pmstatus):[^:]*:([0-9.]+):(.*)')
# debootstrap's minbase of bookworm: each package is retrieved, validated,
# extracted, unpacked and configured (what the progress counts against).
DEBOOTSTRAP_EVENTS = 90 * 5


class Progress(object):
    """Turns the build's output into a progress display on ``out``: one
    line redrawn in place on a terminal, a line per step and per tenth of
    a step elsewhere (logs). Keeps the last lines to explain a failure."""

    def __init__(self, out=None, tty=None):
        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.step, self.steps, self.title = 0, 3, 'starting'
        self.fraction = 0.0
        self.events = 0
        self.detail = ''
        self.tail = collections.deque(maxlen=30)
        self._shown = None
        self._width = 0

    def feed(self, line):
        line = line.rstrip('\n')
        if line.strip():
            self.tail.append(line)
        match = _STEP.search(line)
        if match:
            self.step, self.steps = int(match.group(1)), int(match.group(2))
            self.title = match.group(3).split(' from ')[0].split(
                ' into ')[0]
            if self.step == 2:
                self.title = 'installing Docker, cloud-init and tools'
            self.fraction, self.detail = 0.0, ''
            self.events = 0
            self._draw(force=True)
            return
        match = _DEBOOTSTRAP.match(line)
        if match and self.step == 1:
            self.events += 1
            self.fraction = min(0.99, self.events / DEBOOTSTRAP_EVENTS)
            self.detail = '%s %s' % (match.group(1).lower(), match.group(2))
        else:
            match = _APT.match(line)
            if not match or self.step != 2:
                return
            # Downloads are the first half of apt's work, dpkg the second.
            half = 0.0 if match.group(1) == 'dlstatus' else 0.5
            self.fraction = min(0.99, half + float(match.group(2)) / 200)
            self.detail = match.group(3).strip()
        self._draw()

    @property
    def percent(self):
        """Of the whole build: debootstrap ~45 %, the install ~50 %."""
        weights = {1: (0, 45), 2: (45, 50), 3: (95, 5)}
        start, size = weights.get(self.step, (0, 0))
        return int(start + size * self.fraction)

    def _draw(self, force=False):
        percent = self.percent
        if self.tty:
            bar = '#' * (percent // 5)
            text = '[%-20s] %3d%% %d/%d %s: %s' % (
                bar, percent, self.step, self.steps, self.title,
                self.detail)[:100]
            self.out.write('\r' + text.ljust(self._width))
            self._width = len(text)
            self.out.flush()
            return
        tenth = (self.step, int(self.fraction * 10))
        if force or tenth != self._shown:
            self._shown = tenth
            self.out.write('building the real nodes\' base: %3d%% (step '
                           '%d/%d, %s) %s\n' % (percent, self.step,
                                                 self.steps, self.title,
                                                 self.detail))
            self.out.flush()

    def done(self, text=''):
        if self.tty:
            self.out.write('\r' + ' ' * self._width + '\r')
        if text:
            self.out.write(text + '\n')
        self.out.flush()


def build(base, progress=None, env=None):
    """Build the base at ``base`` with the shipped script, feeding its
    output to ``progress``; the seconds it took. Unavailable (with the end
    of the build's output) when it fails."""
    progress = progress or Progress()
    started = time.monotonic()
    run_env = dict(os.environ if env is None else env,
                   CAAS_BUILD_PROGRESS='1')
    proc = subprocess.Popen(_script() + [base], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=run_env, text=True, errors='replace')
    with proc.stdout:
        for line in proc.stdout:
            progress.feed(line)
    rc = proc.wait()
    if rc != 0 or not built(base):
        progress.done()
        raise BuildFailed('building the base root filesystem %s failed '
                          '(exit %d); the end of its output:\n  %s' % (
                              base, rc, '\n  '.join(progress.tail)))
    seconds = time.monotonic() - started
    progress.done('built the real nodes\' base %s in %d s' % (base, seconds))
    return seconds


def ensure(setting, build_missing=True, progress=None, **facts):
    """The base of ``setting`` (a path or ``auto``), built now if it is
    missing and ``build_missing``; Unavailable naming everything real
    nodes lack here."""
    path = resolve(setting)
    check(path, build=build_missing, **facts)
    if not built(path):
        build(path, progress)
        check(path, **facts)
    return path
