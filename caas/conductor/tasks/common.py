"""What every task needs: the cluster's rows, its driver, cloud retries."""

import dataclasses

import tenacity
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from oslo_log import log as logging

from caas import drivers
from caas.conf import CONF
from caas.db import api as db_api

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class ClusterData:
    cluster: dict
    template: dict
    nodegroups: list
    driver: object


def load(cluster_uuid):
    # The conductor acts on UUIDs from its own rows, for every project.
    cluster = db_api.get_cluster_by_uuid(cluster_uuid,
                                         scope=db_api.ALL_PROJECTS)
    template = db_api.get_cluster_template(cluster.cluster_template_id,
                                           scope=db_api.ALL_PROJECTS)
    nodegroups = [ng.as_dict() for ng in db_api.list_nodegroups(cluster_uuid)]
    driver = drivers.find_driver(template.server_type, template.cluster_distro,
                                 template.coe, explicit=template.driver)
    return ClusterData(cluster.as_dict(), template.as_dict(), nodegroups,
                       driver)


def _transient(exc):
    if isinstance(exc, heat_exc.HTTPException):
        return getattr(exc, 'code', 0) >= 500
    return isinstance(exc, (ks_exc.ConnectFailure, ks_exc.ConnectTimeout,
                            ks_exc.ServiceUnavailable, ks_exc.GatewayTimeout,
                            ks_exc.BadGateway, ks_exc.InternalServerError,
                            ks_exc.RetriableConnectionFailure))


def cloud_call(fn, *args, **kwargs):
    """Call the cloud, retrying 5xx answers and connection failures."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_transient),
        wait=tenacity.wait_exponential(multiplier=0.2, max=3),
        stop=tenacity.stop_after_delay(CONF.conductor.cloud_retry_timeout),
        before_sleep=lambda rs: LOG.warning(
            'Cloud call %s failed (%s); retrying', getattr(fn, '__name__', fn),
            rs.outcome.exception()),
        reraise=True)
    return retrying(fn, *args, **kwargs)


def find_stack(clients, name_or_id):
    """The stack, or None if Heat does not know it (or it is deleted)."""
    try:
        stack = cloud_call(clients.heat.stacks.get, name_or_id)
    except heat_exc.HTTPNotFound:
        return None
    if stack.stack_status == 'DELETE_COMPLETE':
        return None
    return stack


def stack_outputs(stack):
    """{output_key: output_value} of a stack from Heat."""
    return {o['output_key']: o.get('output_value')
            for o in (stack.to_dict().get('outputs') or [])}


def poll_stack(fence, clients, name_or_id):
    """One poll of a stack being waited for; a lost claim ends the wait."""
    fence.check()
    return find_stack(clients, name_or_id)


def failure_reason(flow_failures):
    """One line a user can act on, from the failures TaskFlow collected."""
    if not flow_failures:
        return 'The operation failed.'
    messages = []
    for failure in flow_failures.values():
        exc = failure.exception
        messages.append(str(exc) if exc is not None else failure.exception_str)
    return '; '.join(sorted(set(messages)))
