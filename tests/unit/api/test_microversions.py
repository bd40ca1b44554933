"""caas.api.microversions.negotiate_environ: the same answer (or error) as
negotiate() of werkzeug's view of the headers, remembered per value."""

import microversion_parse
import pytest
from werkzeug.datastructures import EnvironHeaders

from caas.api import microversions
from caas.common import exceptions

_BASE = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/clusters',
         'HTTP_HOST': 'h', 'HTTP_X_AUTH_TOKEN': 't', 'HTTP_ACCEPT': '*/*',
         'CONTENT_TYPE': 'application/json', 'CONTENT_LENGTH': '',
         'HTTP_CONTENT_TYPE': 'text/plain'}

_VALUES = [
    'container-infra 1.1', 'container-infra 1.5', 'container-infra 1.14',
    'container-infra latest', 'container-infra LATEST ',
    'container-infrastructure-management 1.9',
    'Container-Infra 1.3', 'container-infra 1.2, compute 2.1',
    'compute 2.1, container-infra 1.7',
    'container-infra 1.4,container-infra 1.8',
    'compute 2.1', 'container-infra', 'container-infra 1',
    'container-infra x.y',
    'container-infra 1.15', 'container-infra 1.0', 'container-infra 2.0',
    '', ' ', 'container-infra 1.5 extra', 'container-infra\t1.6',
    'container-infra 1.ü', 'ü container-infra 1.2']


def _environs():
    yield dict(_BASE)
    for value in _VALUES:
        yield dict(_BASE, HTTP_OPENSTACK_API_VERSION=value)
        # Keys a server may hand over that fold to the same header: the
        # last one in the environ wins, as in the fold.
        yield dict(_BASE, HTTP_OPENSTACK_API_VERSION='container-infra 1.2',
                   **{'HTTP_openstack_api_version': value})
        yield dict(_BASE, **{'HTTP_OPENSTACK-API_VERSION': value})
        # Not the header: other names, the wrong prefix, a non-ASCII
        # name, the CGI names werkzeug leaves out.
        yield dict(_BASE, HTTP_X_OPENSTACK_API_VERSION=value,
                   OPENSTACK_API_VERSION=value,
                   HTTP_OPENSTACK_API_VERSIONS=value,
                   **{'HTTP_OPENSTACK_API_VERSİON': value})


def _outcome(fn, arg):
    try:
        return 'ok', fn(arg)
    except exceptions.CaasException as exc:
        return type(exc), exc.code, str(exc)


def test_the_same_version_or_error_as_negotiate_of_the_headers(
        monkeypatch):
    monkeypatch.setattr(microversions, '_negotiated', {})
    checked = 0
    # Twice: the second pass from memory.
    for _ in range(2):
        for environ in _environs():
            expected = _outcome(microversions.negotiate,
                                EnvironHeaders(environ))
            assert _outcome(microversions.negotiate_environ,
                            environ) == expected, environ
            checked += 1
    assert checked == 2 * (1 + 4 * len(_VALUES))


def test_a_value_is_negotiated_once_and_errors_every_time(monkeypatch):
    monkeypatch.setattr(microversions, '_negotiated', {})
    calls = []
    real = microversion_parse.get_version
    monkeypatch.setattr(microversion_parse, 'get_version',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    good = dict(_BASE, HTTP_OPENSTACK_API_VERSION='container-infra 1.5')
    for _ in range(50):
        assert microversions.negotiate_environ(good) == \
            microversion_parse.parse_version_string('1.5')
    assert len(calls) == 1
    bad = dict(_BASE, HTTP_OPENSTACK_API_VERSION='container-infra 9.9')
    for _ in range(3):
        with pytest.raises(exceptions.NotAcceptable):
            microversions.negotiate_environ(bad)
    assert len(calls) == 1 + 3


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(microversions, '_negotiated', {})
    for minor in range(200):
        environ = dict(_BASE, HTTP_OPENSTACK_API_VERSION='compute 2.%d, '
                       'container-infra 1.%d' % (minor, 1 + minor % 14))
        assert microversions.negotiate_environ(environ) == \
            microversion_parse.parse_version_string('1.%d' % (1 + minor % 14))
    assert len(microversions._negotiated) == \
        microversions._NEGOTIATED_LIMIT
