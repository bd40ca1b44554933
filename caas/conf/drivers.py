"""[drivers] options: how the COE drivers judge what users send them."""

from oslo_config import cfg

group = cfg.OptGroup('drivers', title='COE drivers')

opts = [
    cfg.BoolOpt('strict_labels', default=False,
                help='Refuse, with a 400 naming it, a template or cluster '
                     'label that the chosen driver does not know. By '
                     "default such labels are accepted and stored, as "
                     "Magnum does (tools written for Magnum's drivers send "
                     'many), and the drivers ignore them; labels a driver '
                     'knows are type-checked either way.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
