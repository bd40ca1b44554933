"""Microversion negotiation on ``OpenStack-API-Version: container-infra X.Y``.

The history of every version is in doc/source/rest_api_version_history.rst.
A request without the header gets the minimum version (Magnum's rule);
``latest`` gets the maximum; anything outside [MIN, MAX] or unparsable is a
406. Magnum never honoured a legacy ``X-OpenStack-Magnum-API-Version``
header, so neither does caas.
"""

import microversion_parse

from caas.common import exceptions

SERVICE_TYPE = 'container-infra'
HEADER = 'OpenStack-API-Version'
MIN_HEADER = 'OpenStack-API-Minimum-Version'
MAX_HEADER = 'OpenStack-API-Maximum-Version'

MIN_VERSION_STRING = '1.1'
# 1.10: nodegroups (and so clusters' worker node_count) may have 0 nodes.
MAX_VERSION_STRING = '1.10'

MIN_VERSION = microversion_parse.parse_version_string(MIN_VERSION_STRING)
MAX_VERSION = microversion_parse.parse_version_string(MAX_VERSION_STRING)

# Versions that change behaviour, named so that controllers compare against
# a name instead of a number.
ROLLBACK = microversion_parse.parse_version_string('1.3')
CA_ROTATION = microversion_parse.parse_version_string('1.5')
RESIZE = microversion_parse.parse_version_string('1.7')
NODEGROUPS = microversion_parse.parse_version_string('1.9')
ZERO_NODES = microversion_parse.parse_version_string('1.10')
CREDENTIAL_ROTATION = microversion_parse.parse_version_string('1.12')


def _not_acceptable(message):
    return exceptions.NotAcceptable(message=message)


def negotiate(headers):
    """Return the Version a request asked for.

    :param headers: a mapping of the request's headers.
    :raises: NotAcceptable (406) if the header is malformed or out of range.
    """
    try:
        requested = microversion_parse.get_version(headers, SERVICE_TYPE)
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


def response_headers(version=None):
    """Headers every response carries; the version only once negotiated."""
    headers = {MIN_HEADER: MIN_VERSION_STRING, MAX_HEADER: MAX_VERSION_STRING,
               'Vary': HEADER}
    if version is not None:
        headers[HEADER] = '%s %s' % (SERVICE_TYPE, version)
    return headers
