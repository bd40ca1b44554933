"""Process entry points: each parses configuration, sets up logging and
starts one part of the data path (API, conductor, simulated cloud, or all of
them in one process)."""

import gc
import sys

from oslo_log import log as logging

from caas import conf as caas_conf
from caas.common import log as caas_log
from caas.conf import CONF


def prepare(argv=None, description=None, cli_opts=(), default_config_files=None):
    """Parse --config-file and friends; set up oslo.log."""
    caas_conf.register_log_opts()
    logging.set_defaults(default_log_levels=logging.get_default_log_levels() + [
        'alembic=WARN', 'kombu.connection=ERROR'])
    if cli_opts:
        CONF.register_cli_opts(cli_opts)
    CONF(sys.argv[1:] if argv is None else argv, project='caas',
         prog=description, default_config_files=default_config_files)
    caas_log.setup(CONF, 'caas')


# The collector's thresholds once started: a young collection after 10,000
# net allocations instead of 700 (Python's default), the rest as Python's.
GC_THRESHOLDS = (10000, 10, 10)


def settle_heap():
    """Called once a long-running process has started (caas-all,
    caas-conductor, caas-cloudsim; caas-api's workers freeze their heap
    and keep Python's thresholds): the objects alive (modules,
    configuration, the service's own) are moved out of the garbage
    collector's reach, as caas-api's workers do, and young collections
    are made rarer.

    Every full collection walked the whole heap with the interpreter lock
    held, and every request, flow and simulated-cloud call of the process
    waits meanwhile. During a fill of 1,000 clusters in caas-all there was
    one every 4-5 s, of 0.1-1.3 s at a load average of 10: the tail of
    the template list, whose own time is 2-7 ms. Frozen, the start's
    objects are no longer walked; with the young generations collected 14
    times less often, a flow's objects (alive for one step) are rarely
    still alive at a collection, so few reach the old generation: 1 full
    collection during such a fill instead of 17-20, 4 s of the collector's
    CPU instead of 12. A middle collection then walks up to ~100,000
    objects (60-80 ms of CPU, every ~6 s during a fill)."""
    from caas.api import workers
    workers.settle_heap()
    gc.set_threshold(*GC_THRESHOLDS)


def wait_for_stop_signal(name):
    """Block until SIGTERM or SIGINT; the caller then stops cleanly."""
    import signal
    import threading

    log = logging.getLogger(__name__)
    stopping = threading.Event()

    def _stop(signum, _frame):
        log.info('Signal %d received, stopping %s', signum, name)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping.wait(0.5):
        pass


def real_nodes_base(prog, setting, build_missing, facts=None):
    """The checked base of real nodes for ``[sim] real_nodes`` (a path or
    ``auto``), built now if it is missing and ``build_missing``; None for
    none. Exits with a message naming what is missing (2) or why the build
    failed (1), never with a traceback. ``facts``: the machine's (tests)."""
    if not setting:
        return None
    from caas.sim.realnodes import base
    try:
        path = base.resolve(setting)
        base.check(path, build=build_missing, **(facts or {}))
        if not base.built(path):
            print('%s: building the base root filesystem of real nodes in '
                  '%s (once: a few minutes, about 530 MB of Debian '
                  'packages)' % (prog, path), file=sys.stderr, flush=True)
            base.build(path)
    except base.Unavailable as exc:
        print('%s: no real nodes: %s' % (prog, exc), file=sys.stderr)
        raise SystemExit(1 if isinstance(exc, base.BuildFailed) else 2)
    return path
