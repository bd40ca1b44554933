"""caas-conductor: RPC consumer, flow engine, heartbeat, takeover, watcher."""

from oslo_log import log as logging

from caas import cmd
from caas.conductor import service

LOG = logging.getLogger(__name__)


def main(argv=None):
    cmd.prepare(argv)
    conductor = service.ConductorService()
    conductor.start()
    cmd.wait_for_stop_signal('the conductor')
    conductor.stop()
    return 0
