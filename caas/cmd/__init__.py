"""Process entry points: each parses configuration, sets up logging and
starts one part of the data path (API, conductor, simulated cloud, or all of
them in one process)."""

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
