"""[health] options: COE health probes and auto-healing."""

from oslo_config import cfg

group = cfg.OptGroup('health', title='Cluster health and auto-healing')

opts = [
    cfg.BoolOpt('coe_probes', default=True,
                help="Probe each settled cluster's COE API (Kubernetes "
                     '/healthz and node Ready conditions; the Swarm node '
                     'list) with a client certificate from the cluster CA, '
                     'once per [conductor] health_check_interval, at a '
                     "stable offset within it taken from the cluster's "
                     'UUID. Off: health comes from the Heat stacks (and, '
                     'for auto-healing, Nova) only. caas-all turns it off: '
                     'nothing answers at the addresses of the simulated '
                     'cloud.'),
    cfg.FloatOpt('probe_timeout', default=3.0, min=0.1,
                 help='Seconds a probe waits to connect, and for each '
                      'read: a hung API server costs a probe worker this '
                      'long per request, never the watcher.'),
    cfg.IntOpt('probe_workers', default=8, min=1,
               help='Probes one conductor runs at once. A cluster whose '
                    'previous probe has not ended is skipped in its slot.'),
    cfg.ListOpt('probe_networks', default=[],
                help='If set, the only networks (CIDRs) a probe may '
                     'connect to; a cluster whose API address is elsewhere '
                     'is reported UNKNOWN without a packet sent. Tests and '
                     'simulated clouds set 127.0.0.0/8.'),
    cfg.FloatOpt('auto_heal_after', default=300.0, min=0,
                 help='Seconds a node of a cluster with the label '
                      'auto_healing_enabled=true must stay unhealthy (COE '
                      'node not Ready or down, or Nova server ERROR or '
                      'SHUTOFF), as seen by the conductor watching the '
                      'cluster, before that conductor replaces it.'),
    cfg.IntOpt('max_unhealthy_percent', default=40, min=0, max=100,
               help='Auto-healing stops while more than this share of a '
                    "cluster's worker nodes is unhealthy (a network "
                    'partition or a broken image is not fixed by replacing '
                    'nodes); health_status_reason says so.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
