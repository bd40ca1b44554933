"""Which project's resources a request may see, and finding one of them.

Every look-up names its scope (``caas.db.api`` refuses one that does
not). A caller reaches its own project's resources (and public
templates); an administrator may also reach any project's:

* lists show the caller's project unless ``?all_projects=true`` is given,
  which needs ``<resource>:get_all_all_projects`` (or ``detail_all_projects``);
* a single resource is looked for in the caller's project first, then, if
  ``<resource>:<action>_all_projects`` allows it, in every project, so an
  administrator can act on any resource by UUID while names keep meaning
  the administrator's own resources first.

A token without a project is refused with 403 before any look-up: it has
no project to see.
"""

import flask

from caas.api import request
from caas.common import coercion
from caas.common import exceptions
from caas.common import policy
from caas.db import api as db

ALL_PROJECTS_PARAM = 'all_projects'


def project(rule):
    """The caller's project id; 403 naming ``rule`` when it has none."""
    ctx = request.context()
    if not ctx.project_id:
        raise policy.NoProject(action=rule)
    return ctx.project_id


def all_projects_requested():
    """``?all_projects=`` as a boolean; 400 for a value that is neither."""
    value = flask.request.args.get(ALL_PROJECTS_PARAM)
    if value is None:
        return False
    text = value.strip().lower()
    if text in coercion.TRUE:
        return True
    if text in coercion.FALSE or text == '':
        return False
    raise exceptions.InvalidParameterValue(
        err='Invalid value for %s: %s. Use true or false.' % (
            ALL_PROJECTS_PARAM, value))


def for_list(rule, all_projects_rule):
    """The scope of a list request after its policy checks.

    :returns: the caller's project id, or ``db.ALL_PROJECTS`` when
        ``all_projects`` was asked for and ``all_projects_rule`` allows it.
    :raises: PolicyNotAuthorized (403).
    """
    ctx = request.context()
    project(rule)
    policy.authorize(ctx, rule)
    if all_projects_requested():
        policy.authorize(ctx, all_projects_rule)
        return db.ALL_PROJECTS
    return ctx.project_id


def find(getter, ident, rule, all_projects_rule, target=None):
    """Look a resource up for ``rule`` and authorize the action on it.

    :param getter: ``getter(ident, scope=...)`` from ``caas.db.api``.
    :param target: ``target(row)`` -> the policy target; by default the
        row's own project.
    :raises: NotFound (404) when the caller may not see it, NoProject or
        PolicyNotAuthorized (403).
    """
    ctx = request.context()
    try:
        row = getter(ident, scope=project(rule))
    except exceptions.NotFound:
        if not policy.check(ctx, all_projects_rule):
            raise
        row = getter(ident, scope=db.ALL_PROJECTS)
    policy.authorize(ctx, rule, target(row) if target else {
        'project_id': row.project_id})
    return row
