"""The default policy rules in code, one module per resource.

Rule names are Magnum's, so policy files written for Magnum keep their
meaning; ``caas.common.policy`` enforces them.
"""

import itertools

from caas.common.policies import base
from caas.common.policies import certificate
from caas.common.policies import cluster
from caas.common.policies import cluster_template
from caas.common.policies import event
from caas.common.policies import magnum_service
from caas.common.policies import nodegroup
from caas.common.policies import quota

_MODULES = (base, cluster, cluster_template, nodegroup, certificate, quota,
            magnum_service, event)


def list_rules():
    return list(itertools.chain.from_iterable(
        m.list_rules() for m in _MODULES))
