"""caas-conductor: RPC consumer, flow engine, heartbeat, takeover, watcher."""

import signal
import threading

from oslo_log import log as logging

from caas import cmd
from caas.conductor import service

LOG = logging.getLogger(__name__)


def main(argv=None):
    cmd.prepare(argv)
    conductor = service.ConductorService()
    stopping = threading.Event()

    def _stop(signum, _frame):
        LOG.info('Signal %d received, stopping', signum)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    conductor.start()
    while not stopping.wait(1):
        pass
    conductor.stop()
    return 0
