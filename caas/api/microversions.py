"""Microversion negotiation on ``OpenStack-API-Version: container-infra X.Y``.

The history of every version is in doc/source/rest_api_version_history.rst.
A request without the header gets the minimum version (Magnum's rule);
``latest`` gets the maximum; anything outside [MIN, MAX] or unparsable is a
406. The version may also be asked for under the official service type
``container-infrastructure-management`` (openstacksdk sends it; Magnum
accepts it since 2025.2); ``container-infra`` wins when both are sent.
Responses always answer as Magnum does: ``container-infra X.Y``, and the
range headers ``container-infra 1.1`` / ``container-infra 1.14``. Magnum
never honoured a legacy ``X-OpenStack-Magnum-API-Version`` header, so
neither does caas.
"""

import microversion_parse

from caas.common import exceptions

SERVICE_TYPE = 'container-infra'
# The service type's official name, accepted in requests as an alias.
SERVICE_TYPE_ALIAS = 'container-infrastructure-management'
HEADER = 'OpenStack-API-Version'
MIN_HEADER = 'OpenStack-API-Minimum-Version'
MAX_HEADER = 'OpenStack-API-Maximum-Version'

MIN_VERSION_STRING = '1.1'
# 1.14: nodegroup node_labels and node_taints (see the version history).
MAX_VERSION_STRING = '1.14'

MIN_VERSION = microversion_parse.parse_version_string(MIN_VERSION_STRING)
MAX_VERSION = microversion_parse.parse_version_string(MAX_VERSION_STRING)

# Versions that change behaviour, named so that controllers compare against
# a name instead of a number.
ROLLBACK = microversion_parse.parse_version_string('1.3')
STATS = microversion_parse.parse_version_string('1.4')
CA_ROTATION = microversion_parse.parse_version_string('1.5')
QUOTAS = microversion_parse.parse_version_string('1.6')
RESIZE = microversion_parse.parse_version_string('1.7')
UPGRADE = microversion_parse.parse_version_string('1.8')
NODEGROUPS = microversion_parse.parse_version_string('1.9')
ZERO_NODES = microversion_parse.parse_version_string('1.10')
# 1.11: Magnum removed bays and baymodels; caas never served them.
NO_BAYS = microversion_parse.parse_version_string('1.11')
CREDENTIALS = microversion_parse.parse_version_string('1.12')
CLUSTER_ID = microversion_parse.parse_version_string('1.13')
NODE_LABELS_TAINTS = microversion_parse.parse_version_string('1.14')
# Nodegroups' node_labels and node_taints, applied to their nodes.
NODE_LABELS = NODE_LABELS_TAINTS
CREDENTIAL_ROTATION = CREDENTIALS


def _not_acceptable(message):
    return exceptions.NotAcceptable(message=message)


def negotiate(headers):
    """Return the Version a request asked for.

    :param headers: a mapping of the request's headers.
    :raises: NotAcceptable (406) if the header is malformed or out of range.
    """
    try:
        requested = microversion_parse.get_version(headers, SERVICE_TYPE)
        if requested is None:
            requested = microversion_parse.get_version(headers,
                                                       SERVICE_TYPE_ALIAS)
    except ValueError:
        requested = 'invalid'
    if requested is None:
        return MIN_VERSION
    if requested.strip().lower() == 'latest':
        return MAX_VERSION
    try:
        version = microversion_parse.parse_version_string(requested)
    except TypeError:
        raise _not_acceptable(
            'Invalid value %r for the %s header; use "%s X.Y" or "%s '
            'latest".' % (requested, HEADER, SERVICE_TYPE, SERVICE_TYPE))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise _not_acceptable(
            'Version %s was requested but is not supported by this service. '
            'The supported version range is: [%s, %s].' % (
                version, MIN_VERSION, MAX_VERSION))
    return version


_HEADER_NAME = HEADER.lower()
_HEADER_KEY_LENGTH = len('HTTP_' + HEADER)
_CONTENT_KEYS = frozenset(('HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH'))
# header value (None: absent) -> the Version negotiated; errors are not
# kept (raised fresh each time). Values are the clients' words: bounded.
_NEGOTIATED_LIMIT = 64
_negotiated = {}


def negotiate_environ(environ):
    """:func:`negotiate` of a WSGI request's headers as werkzeug's
    ``EnvironHeaders`` presents them, remembered per header value.

    microversion_parse folds every header of the request into a dict to
    read one; its answer depends on that one value only (the standard
    header, for the service type and its alias). The value is found as
    the fold would find it (the last environ key whose header name folds
    to it), and a value negotiated before is answered from memory.
    """
    value = None
    for key in environ:
        # ASCII keys keep their length through the case changes below.
        if key.startswith('HTTP_') and key not in _CONTENT_KEYS and (
                len(key) == _HEADER_KEY_LENGTH or not key.isascii()) and \
                key[5:].replace('_', '-').title().lower() == _HEADER_NAME:
            value = environ[key]
    version = _negotiated.get(value)
    if version is None:
        version = negotiate({} if value is None else {_HEADER_NAME: value})
        if len(_negotiated) < _NEGOTIATED_LIMIT:
            _negotiated[value] = version
    return version


def response_headers(version=None):
    """Headers every response carries; the version only once negotiated.

    Like Magnum's, each names the service type ``container-infra`` whatever
    name the request used.
    """
    headers = {MIN_HEADER: '%s %s' % (SERVICE_TYPE, MIN_VERSION_STRING),
               MAX_HEADER: '%s %s' % (SERVICE_TYPE, MAX_VERSION_STRING),
               'Vary': HEADER}
    if version is not None:
        headers[HEADER] = '%s %s' % (SERVICE_TYPE, version)
    return headers
