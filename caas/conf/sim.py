"""[sim] options of the simulated cloud (caas-cloudsim and caas-all)."""

from oslo_config import cfg

group = cfg.OptGroup('sim', title='Simulated cloud options')

opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address the simulated cloud listens on.'),
    cfg.PortOpt('port', default=5999,
                help='Port of the simulated cloud (Keystone, Nova, Glance '
                     'and Heat share it under different path prefixes).'),
    cfg.StrOpt('state_dir',
               help='Directory where the simulated cloud keeps its state so '
                    'that it survives a restart. Unset: memory only.'),
    cfg.FloatOpt('server_boot_delay', default=1.0, min=0,
                 help='Seconds a server stays in BUILD before ACTIVE.'),
    cfg.FloatOpt('resource_delay', default=0.05, min=0,
                 help='Seconds a non-server resource takes to create.'),
    cfg.FloatOpt('delete_delay', default=0.2, min=0,
                 help='Seconds a stack takes to delete.'),
    cfg.FloatOpt('server_failure_rate', default=0.0, min=0, max=1,
                 help='Probability that a server goes to ERROR (fault '
                      'injection).'),
    cfg.FloatOpt('api_error_rate', default=0.0, min=0, max=1,
                 help='Probability that an API call answers 503 (fault '
                      'injection; Keystone is spared).'),
    cfg.FloatOpt('api_latency', default=0.0, min=0,
                 help='Seconds added to every API call (fault injection).'),
    cfg.FloatOpt('loadbalancer_delay', default=0.2, min=0,
                 help='Seconds an Octavia load balancer takes to become '
                      'ACTIVE.'),
    cfg.FloatOpt('baremetal_boot_delay', default=1.0, min=0,
                 help='Seconds a server on a bare-metal (Ironic-backed) '
                      'flavor stays in BUILD before ACTIVE.'),
    cfg.BoolOpt('nodes_signal', default=True,
                help='Servers signal the Heat wait-condition handles their '
                     'user data names once ACTIVE, as a node bootstrap '
                     'does when kubelet or Docker is up. False: they never '
                     'signal and their wait conditions time out (fault '
                     'injection).'),
    cfg.FloatOpt('node_signal_delay', default=0.0, min=0,
                 help='Seconds after a server became ACTIVE before it '
                      'signals its wait conditions.'),
    cfg.StrOpt('admin_password', default='caas', secret=True,
               help='Password of the seeded users (admin, caas, demo, '
                    'viewer).'),
    cfg.StrOpt('real_nodes', default='',
               help='Base root filesystem of real nodes (built by '
                    'tools/build-node-rootfs.sh, e.g. '
                    '/var/cache/caas-ci/node-rootfs-1), or "auto": the '
                    'default place, built there on first use (what '
                    'caas-all --real-nodes does). When set, servers of the '
                    'debian-bookworm-docker image are real nodes: network '
                    'namespaces that boot their user data with cloud-init '
                    '(Linux and root only; elsewhere the cloud refuses to '
                    'start, naming what is missing). Empty: every server '
                    'is simulated.'),
    cfg.StrOpt('floating_ip_range', default='',
               help='Loopback network (within 127.0.0.0/8, e.g. '
                    '127.64.7.0/24) that floating IPs are allocated from. '
                    'A cloud with real nodes listens on its floating IPs, '
                    'so it holds its range machine-wide (a lock under '
                    '/run/caas-realnodes) and refuses to start when '
                    'another cloud holds it. Empty: a cloud with real '
                    'nodes takes a /24 of 127.64.0.0/10 derived from its '
                    'state directory (the next free one if that is held) '
                    'and keeps it across restarts; other clouds use '
                    '127.24.4.0/22.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
