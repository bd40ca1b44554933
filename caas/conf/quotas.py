"""[quotas] options: what a project may hold when no quota row says.

Magnum's option group and name, so a magnum.conf section carries over.
"""

from oslo_config import cfg

group = cfg.OptGroup('quotas', title='Project quotas')

opts = [
    cfg.IntOpt('max_clusters_per_project', default=20, min=0,
               help='How many clusters a project may have when no quota '
                    'was set for it with POST /v1/quotas (resource '
                    '"Cluster"). Every cluster of the project counts, '
                    'whatever its status, until its delete has finished. '
                    'A create beyond the limit is refused with a 403 that '
                    'names the quota, the limit and the project.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
