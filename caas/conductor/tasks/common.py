"""What every task needs: the cluster's rows, its driver, cloud retries."""

import collections
import dataclasses
import http
import time

from heatclient import exc as heat_exc
from oslo_log import log as logging
from taskflow import task
from taskflow.types import sets as tf_sets

from caas import drivers
from caas.clients import cloud
from caas.common import exceptions
from caas.conductor import steps
from caas.conf import CONF
from caas.db import api as db_api
from caas.db import operations as db_ops
from caas.db import outage

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class ClusterData:
    cluster: dict
    template: dict
    nodegroups: list
    driver: object


def load(cluster_uuid):
    """The cluster's rows and driver (read again through a short outage)."""
    return outage.call(_load, cluster_uuid)


def load_for(fence):
    """The claimed cluster's rows and driver, read in one transaction: the
    cluster and its nodegroups as they are now; its template and driver
    read once per claim and template (while clusters use a template, only
    its cosmetic fields may change)."""
    known = fence.memo.get('template')
    cluster, template, nodegroups = outage.call(
        db_ops.cluster_rows, fence.cluster_uuid,
        known[0]['uuid'] if known is not None else None)
    if template is not None:
        known = fence.memo['template'] = (template, _driver(template))
    template, driver = known
    return ClusterData(cluster, dict(template), nodegroups, driver)


def driver_for(fence):
    """The claimed cluster's driver, as :func:`load_for` last found it
    (read then if it never did)."""
    known = fence.memo.get('template')
    return known[1] if known is not None else load_for(fence).driver


def operation(operation_id):
    """The operations row (read again through a short outage)."""
    return outage.call(db_api.get_operation, operation_id)


def _driver(template):
    return drivers.find_driver(template['server_type'],
                               template['cluster_distro'], template['coe'],
                               explicit=template['driver'])


def _load(cluster_uuid):
    # The conductor acts on UUIDs from its own rows, for every project.
    cluster = db_api.get_cluster_by_uuid(cluster_uuid,
                                         scope=db_api.ALL_PROJECTS)
    template = db_api.get_cluster_template(cluster.cluster_template_id,
                                           scope=db_api.ALL_PROJECTS)
    nodegroups = [ng.as_dict() for ng in db_api.list_nodegroups(cluster_uuid)]
    template = template.as_dict()
    return ClusterData(cluster.as_dict(), template, nodegroups,
                       _driver(template))


# (task class, function, auto_extract, ignore list) -> TaskFlow's mapping.
_ARG_MAPPINGS = {}


class Task(task.Task):
    """TaskFlow's task whose arguments are mapped once per class.

    TaskFlow inspects ``execute``'s and ``revert``'s signatures each time a
    task is built, and a flow is built for every operation (5 % of a
    conductor's profile per create); a task without ``requires``,
    ``rebind`` or ``inject`` of its own maps them the same every time.
    Callers get copies: TaskFlow's sets and dict are theirs to change.
    """

    def _build_arg_mapping(self, executor, requires=None, rebind=None,
                           auto_extract=True, ignore_list=None):
        if requires is not None or rebind is not None or self.inject:
            return super()._build_arg_mapping(executor, requires, rebind,
                                              auto_extract, ignore_list)
        key = (type(self), getattr(executor, '__func__', executor),
               auto_extract, tuple(ignore_list or ()))
        found = _ARG_MAPPINGS.get(key)
        if found is None:
            found = _ARG_MAPPINGS[key] = super()._build_arg_mapping(
                executor, requires, rebind, auto_extract, ignore_list)
        mapping, required, optional = found
        return (collections.OrderedDict(mapping), tf_sets.OrderedSet(required),
                tf_sets.OrderedSet(optional))


class CloudUnavailable(exceptions.CaasException):
    message = '%(reason)s'


_VERBS = {'get': 'GET', 'find': 'GET', 'list': 'GET', 'create': 'POST',
          'update': 'PATCH', 'delete': 'DELETE'}


def describe_call(fn, args, kwargs):
    """'heat GET stack caas-<uuid>': the service, verb and resource of a
    python-heatclient / python-novaclient manager call."""
    manager = getattr(fn, '__self__', None)
    service = type(manager).__module__.split('.')[0].replace('client', '') \
        if manager is not None else 'cloud'
    name = getattr(fn, '__name__', str(fn))
    resource = getattr(getattr(manager, 'resource_class', None), '__name__',
                       type(manager).__name__.replace('Manager', ''))
    ident = kwargs.get('stack_name') or kwargs.get('name') or \
        next((a for a in args if isinstance(a, str)), '')
    return ' '.join(p for p in (service, _VERBS.get(name, name),
                                resource.lower(), ident) if p)


def cloud_answer(exc):
    """'503 Service Unavailable: <the message>' from a client exception."""
    code = getattr(exc, 'code', None) or getattr(exc, 'http_status', None)
    text = str(exc).strip()
    if text.startswith('ERROR: '):
        text = text[len('ERROR: '):]
    if isinstance(code, int) and code >= 100:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = ''
        head = ('%d %s' % (code, phrase)).strip()
        return head if not text or text == head else '%s: %s' % (head, text)
    return text or type(exc).__name__


def cloud_call(fn, *args, **kwargs):
    """Call the cloud, retrying 5xx answers and connection failures for at
    most [conductor] cloud_retry_timeout seconds.

    :raises: CloudUnavailable, naming the service, the call and the cloud's
        last answer, once the retry budget is spent; the client's own
        exception for an answer that is not worth retrying (4xx).
    """
    started = time.monotonic()
    try:
        try:
            # The usual case costs no retry machinery.
            return fn(*args, **kwargs)
        except Exception as exc:
            if not cloud.transient(exc):
                raise
            return outage.retry_after(
                exc, cloud.transient, fn, args, kwargs, wait=0.2, max_wait=3,
                timeout=CONF.conductor.cloud_retry_timeout,
                before_sleep=lambda rs: LOG.warning(
                    'Cloud call %s failed (%s); retrying',
                    describe_call(fn, args, kwargs),
                    rs.outcome.exception()))
    except Exception as exc:
        if not cloud.transient(exc):
            raise
        raise CloudUnavailable(reason='%s failed after %d s: %s' % (
            describe_call(fn, args, kwargs), time.monotonic() - started,
            cloud_answer(exc))) from exc


def find_stack(clients, name_or_id):
    """The stack, or None if Heat does not know it (or it is deleted)."""
    try:
        stack = cloud_call(clients.heat.stacks.get, name_or_id)
    except heat_exc.HTTPNotFound:
        return None
    if stack.stack_status == 'DELETE_COMPLETE':
        return None
    return stack


def stack_body(stack):
    """A stack's representation as Heat sent it, only to be read
    (``to_dict`` deep-copies it, and the wait for a stack reads it at every
    poll)."""
    body = getattr(stack, '_info', None)
    return body if isinstance(body, dict) else stack.to_dict()


def stack_outputs(stack):
    """{output_key: output_value} of a stack from Heat."""
    return {o['output_key']: o.get('output_value')
            for o in (stack_body(stack).get('outputs') or [])}


def remember_stack_path(fence, stack_id, name):
    """The stack's ``name/id`` for the rest of this claim: Heat answers a
    lookup by id alone with a redirect there (two requests a lookup)."""
    fence.memo.setdefault('stack_paths', {})[stack_id] = '%s/%s' % (
        name, stack_id)


def stack_path(fence, stack_id):
    """Where to look ``stack_id`` up: its ``name/id`` when this claim
    learnt it (see :func:`remember_stack_path`), else the id."""
    return fence.memo.get('stack_paths', {}).get(stack_id, stack_id)


def poll_stack(fence, clients, name_or_id):
    """One poll of a stack being waited for; a lost claim ends the wait."""
    fence.check()
    return find_stack(clients, name_or_id)


def failure_reason(flow_failures):
    """One line a user can act on, from the failures TaskFlow collected:
    the step, then what went wrong there (the tasks' messages name the
    resource and the cloud's answer)."""
    if not flow_failures:
        return 'The operation failed.'
    messages = []
    for atom_name, failure in flow_failures.items():
        exc = failure.exception
        text = str(exc) if exc is not None else failure.exception_str
        messages.append('step %s: %s' % (steps.step_name(atom_name), text))
    return '; '.join(sorted(set(messages)))
