"""The operator's Heat environment, sent with every stack caas creates.

``[heat] environment_file`` names an environment YAML file, read the way
``openstack stack create -e`` reads one (python-heatclient's own
``template_utils``): a ``resource_registry`` value that is a relative path
is a template next to the environment file, read and sent in the stack's
``files`` under the URL the registry entry is rewritten to. A cloud without
Octavia or Cinder maps their types to provider templates this way.

The file is read once, when the conductor starts
(:func:`check`): a missing or invalid file stops the start with an error
that names it, never a flow half-way through a create. Creates only: a
PATCH update (``existing=True``) keeps the environment and files Heat
stored with the stack.
"""

import threading

from heatclient.common import template_utils

from caas.common import exceptions
from caas.conf import CONF


class EnvironmentFileError(exceptions.CaasException):
    message = ('[heat] environment_file %(path)s cannot be used: %(err)s')


_lock = threading.Lock()
_loaded = {}    # path -> (environment, files)


def _read(path):
    try:
        files, env = template_utils.process_multiple_environments_and_files(
            env_paths=[path])
    except Exception as exc:
        # heatclient raises URLError, CommandError, ValueError (YAML) or
        # worse; the operator needs the file and the cause, not the type.
        raise EnvironmentFileError(path=path, err=str(exc) or repr(exc))
    if not isinstance(env, dict) or not env:
        raise EnvironmentFileError(path=path,
                                   err='it holds no environment')
    return env, files


def load(path=None):
    """(environment, files) of ``path`` (default: the option); ({}, {})
    when no file is configured. Read once per path per process.

    :raises: EnvironmentFileError
    """
    path = CONF.heat.environment_file if path is None else path
    if not path:
        return {}, {}
    with _lock:
        if path not in _loaded:
            _loaded[path] = _read(path)
        return _loaded[path]


def check():
    """Read the configured file now (the conductor's start).

    :raises: EnvironmentFileError
    """
    load()


def create_kwargs(definition):
    """``environment`` and ``files`` for a ``stacks.create`` of a driver's
    stack definition: the environment's files, then the definition's own
    (a driver's template file is never replaced by an operator's)."""
    env, env_files = load()
    files = dict(env_files)
    files.update(definition.get('files') or {})
    kwargs = {'files': files}
    if env:
        kwargs['environment'] = env
    return kwargs


def forget():
    """Read the files again at the next use (tests)."""
    with _lock:
        _loaded.clear()
