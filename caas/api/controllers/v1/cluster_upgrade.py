"""``POST /v1/clusters/{ident}/actions/upgrade`` (microversion 1.8).

Checks what Magnum checks before anything is recorded (the template exists
and the caller may use it, same COE, no version downgrade) and one thing
more: the new template must change what the nodes run (their image or a
version label the driver reads), else there is nothing to upgrade. Then,
as every mutation, one transaction records the ``cluster_upgrade``
operation and only after it committed is the conductor cast; the conductor
replaces the nodes in batches of ``max_batch_size``.

Without ``nodegroup`` the cluster's default master and worker nodegroups
(built by the cluster's stack) are upgraded, and the nodegroups users added
keep what they run, as in Magnum; with one, only that nodegroup. A
nodegroup users added (its own stack) is upgraded on its own, and, as
Magnum requires, only to the cluster's template: upgrade the cluster first,
then each added nodegroup.
"""

import re

from oslo_log import log as logging

from caas.api import microversions
from caas.api import request
from caas.api import schemas
from caas.api import scope
from caas.api.controllers.v1 import clusters
from caas.api.schemas import cluster as schema
from caas.common import exceptions
from caas.common import states
from caas.db import api as db

LOG = logging.getLogger(__name__)

RULE = 'cluster:upgrade'
ALL_PROJECTS_RULE = 'cluster:upgrade_all_projects'


def _invalid(message):
    return exceptions.InvalidParameterValue(err=message)


def _new_template(ident, cluster):
    """The caller's own or a public template; an administrator acting on
    another project's cluster may also name that project's templates."""
    try:
        return db.get_cluster_template(ident, scope=scope.project(RULE))
    except exceptions.ClusterTemplateNotFound as exc:
        if cluster.project_id != request.context().project_id:
            try:
                return db.get_cluster_template(ident,
                                               scope=cluster.project_id)
            except exceptions.ClusterTemplateNotFound:
                pass
        raise _invalid('Invalid value for field/attribute cluster_template: '
                       '%s' % exc)


def _targets(cluster, name, new, current):
    groups = db.list_nodegroups(cluster.uuid)
    if not name:
        return [ng for ng in groups if ng.is_default]
    ng = clusters.find_nodegroup(cluster.uuid, name)
    if not ng.is_default and new.uuid != cluster.cluster_template_id:
        # Magnum's rule (InvalidClusterTemplateForUpgrade): an added
        # nodegroup follows the cluster, never leads it.
        raise _invalid(
            'Invalid value for field/attribute cluster_template: nodegroup '
            '%s can be upgraded only to the cluster\'s template (%s); '
            'upgrade the cluster to %s first.' % (
                ng.name, current.name or current.uuid,
                new.name or new.uuid))
    return [ng]


def _version(text):
    found = re.match(r'^v?(\d+(?:\.\d+)*)', str(text or ''))
    return tuple(int(p) for p in found.group(1).split('.')) if found \
        else None


def _check(driver, cluster, current, new, targets):
    """400 unless the upgrade changes something and downgrades nothing."""
    wanted = driver.installed({}, new.as_dict(), {})
    changes = False
    for ng in targets:
        running = driver.installed(cluster.as_dict(), current.as_dict(),
                                   ng.as_dict())
        for label in driver.version_labels:
            old, to = _version(running.get(label)), _version(wanted.get(label))
            if old and to and to < old:
                raise _invalid(
                    'Cluster template %s has %s %s, older than the %s that '
                    'nodegroup %s runs: a cluster cannot be downgraded.' % (
                        new.name or new.uuid, label, wanted[label],
                        running[label], ng.name))
        changes = changes or running != wanted
    if not changes:
        raise _invalid(
            'Cluster template %s installs what nodegroup(s) %s already run '
            '(%s): there is nothing to upgrade.' % (
                new.name or new.uuid, ', '.join(ng.name for ng in targets),
                ', '.join('%s=%s' % kv for kv in sorted(wanted.items()))))


def upgrade(ident):
    if request.version() < microversions.UPGRADE:
        raise exceptions.NotAcceptable(
            message='Cluster upgrade needs microversion %s or later '
                    '(requested %s).' % (microversions.UPGRADE,
                                         request.version()))
    cluster = scope.find(db.get_cluster, ident, RULE, ALL_PROJECTS_RULE)
    body = schemas.coerce_and_validate(schema.UPGRADE, request.json_body())
    services = request.services()
    current = db.get_cluster_template(cluster.cluster_template_id,
                                      scope=db.ALL_PROJECTS)
    new = _new_template(body['cluster_template'], cluster)
    if new.coe != current.coe:
        raise _invalid('Invalid value for field/attribute cluster_template: '
                       '%s is a %s template; cluster %s runs %s.' % (
                           new.name or new.uuid, new.coe, cluster.uuid,
                           current.coe))
    driver = services.find_driver(current.server_type,
                                  current.cluster_distro, current.coe,
                                  explicit=current.driver)
    new_driver = services.find_driver(new.server_type, new.cluster_distro,
                                      new.coe, explicit=new.driver)
    if new_driver.name != driver.name:
        raise _invalid('Invalid value for field/attribute cluster_template: '
                       '%s is served by driver %s; cluster %s runs with '
                       'driver %s, which an upgrade cannot change.' % (
                           new.name or new.uuid, new_driver.name,
                           cluster.uuid, driver.name))
    targets = _targets(cluster, body.get('nodegroup'), new, current)
    _check(driver, cluster, current, new, targets)
    params = {'cluster_template': new.uuid,
              'previous_template': current.uuid,
              'max_batch_size': body.get('max_batch_size') or 1,
              'nodegroups': [ng.uuid for ng in targets]}
    own = None
    if not targets[0].is_default:
        # The conductor upgrades that nodegroup's own stack; its status
        # is its own (UPDATE_IN_PROGRESS now, as in Magnum).
        params['nodegroup'] = targets[0].uuid
        own = (targets[0].uuid, {'status': states.UPDATE_IN_PROGRESS,
                                 'status_reason': None})
    cluster, operation = db.start_operation(
        cluster.uuid, states.OP_CLUSTER_UPGRADE, params=params,
        timeout_minutes=services.conf.conductor.upgrade_timeout,
        request_id=request.request_id(), nodegroup=own)
    LOG.info('Cluster %s: upgrade to template %s accepted (operation %s, '
             'nodegroups %s, max_batch_size %d)', cluster.uuid, new.uuid,
             operation.id, ', '.join(ng.name for ng in targets),
             params['max_batch_size'])
    clusters.cast('cluster_upgrade', cluster, operation)
    return request.respond({'uuid': cluster.uuid}, 202)


def register(app):
    app.add_url_rule('/v1/clusters/<ident>/actions/upgrade',
                     'clusters_upgrade', upgrade, methods=['POST'],
                     strict_slashes=False)
