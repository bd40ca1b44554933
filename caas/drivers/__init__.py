"""COE drivers: the step between the conductor's flow tasks and Heat.

Drivers are stevedore plugins in the ``caas.drivers`` entry point group.  A
cluster template selects one either explicitly (its ``driver`` field) or by
the (server_type, os_distro, coe) triple that exactly one installed driver
``provides``.  The conductor asks ``find_driver`` for every task; the API
asks it when a template is created so that an unserved triple is a 400.
"""

import functools
import threading

from stevedore import extension

from caas.common import exceptions

NAMESPACE = 'caas.drivers'

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _manager():
    # Classes only: drivers are cheap to build and instances stay private
    # to a caller, so one driver's state can never leak into another task.
    return extension.ExtensionManager(NAMESPACE, invoke_on_load=False)


def _extensions():
    with _lock:
        return {ext.name: ext.plugin for ext in _manager()}


def get_driver(name):
    """The driver registered under ``name``; DriverNotFound (400) if none."""
    plugins = _extensions()
    if name not in plugins:
        raise exceptions.DriverNotFound(
            'Driver %s is not installed; installed drivers: %s.'
            % (name, ', '.join(sorted(plugins)) or 'none'),
            driver=name)
    return plugins[name]()


def list_drivers():
    """``[(name, provides), ...]`` of every installed driver, by name."""
    return [(name, list(plugin.provides))
            for name, plugin in sorted(_extensions().items())]


def find_driver(server_type, os_distro, coe, explicit=None):
    """The driver for a template.

    :param explicit: the template's ``driver`` field; wins when set.
    :raises DriverNotFound: no driver, or an ambiguous match, for the
        triple (both are operator errors, both a 400 to the user).
    """
    if explicit:
        return get_driver(explicit)
    wanted = {'server_type': server_type, 'os': os_distro, 'coe': coe}
    matches = [name for name, provides in list_drivers()
               if wanted in provides]
    if len(matches) == 1:
        return get_driver(matches[0])
    if len(matches) > 1:
        raise exceptions.DriverNotFound(
            'Drivers %s all serve server_type %s, os_distro %s and coe %s; '
            'set the cluster template\'s driver field to choose one.'
            % (', '.join(matches), server_type, os_distro, coe),
            server_type=server_type, os=os_distro, coe=coe)
    raise exceptions.DriverNotFound(server_type=server_type, os=os_distro,
                                    coe=coe)
