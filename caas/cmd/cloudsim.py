"""caas-cloudsim: the simulated cloud (Keystone, Nova, Glance, Heat) as its
own process, for multi-process setups.

Options come from the ``[sim]`` group of the configuration files; the
command-line flags below override them.  SIGTERM and SIGINT stop it
cleanly (the state is saved on every change anyway).
"""

from oslo_config import cfg
from oslo_log import log as logging

from caas import cmd
from caas.conf import CONF
from caas.sim import server as sim_server

LOG = logging.getLogger(__name__)

CLI_OPTS = [
    cfg.StrOpt('host', dest='cloudsim_host',
               help='Address to listen on (default: [sim] host).'),
    cfg.PortOpt('port', dest='cloudsim_port',
                help='Port to listen on (default: [sim] port).'),
    cfg.StrOpt('state-dir', dest='cloudsim_state_dir',
               help='State directory (default: [sim] state_dir).'),
    cfg.StrOpt('container-infra-url', dest='cloudsim_container_infra_url',
               help='URL listed as the container-infra (caas API) endpoint '
                    'in the Keystone catalog, e.g. http://127.0.0.1:9511/v1.'),
]
KNOBS = ('server_boot_delay', 'resource_delay', 'delete_delay',
         'server_failure_rate', 'api_error_rate', 'api_latency',
         'loadbalancer_delay', 'baremetal_boot_delay', 'nodes_signal',
         'node_signal_delay', 'admin_password')


def build_server(conf=CONF):
    """A SimServer from the parsed configuration and command line."""
    sim = conf.sim
    real_nodes = cmd.real_nodes_base(
        'caas-cloudsim', sim.real_nodes,
        build_missing=sim.real_nodes == 'auto')
    port = conf.cloudsim_port
    return sim_server.SimServer(
        host=conf.cloudsim_host or sim.host,
        port=sim.port if port is None else port,
        state_dir=conf.cloudsim_state_dir or sim.state_dir,
        container_infra_url=conf.cloudsim_container_infra_url,
        real_nodes=real_nodes,
        floating_ip_range=sim.floating_ip_range,
        **{knob: getattr(sim, knob) for knob in KNOBS})


def main(argv=None):
    cmd.prepare(argv, description='caas-cloudsim', cli_opts=CLI_OPTS)
    srv = build_server()
    srv.start()
    cmd.settle_heap()
    LOG.info('Simulated cloud state directory: %s',
             srv.cloud.state_dir or '(memory only)')
    print('caas-cloudsim: auth URL %s' % srv.auth_url, flush=True)
    cmd.wait_for_stop_signal('the simulated cloud')
    srv.stop()
    LOG.info('Simulated cloud stopped')
    return 0
