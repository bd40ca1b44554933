"""Checks of cloud references (image, flavors, keypair, networks).

Runs only when ``[cloud] validate_references`` is true. The cloud object
has ``find_image``, ``find_flavor``, ``find_keypair`` and ``find_network``,
each raising ``NotFound``, ``CloudUnavailable`` or ``CloudError``. An
unknown reference becomes a 400 naming the field and value. A service that
answers 5xx or cannot be reached is retried with backoff for ``[cloud]
reference_retry_timeout`` seconds, then the answer is a 503 naming the
field, the value and the service, so "not found" is said only when the
cloud said it.

A look-up made with the requesting user's own token (keypairs are per
user) that the cloud refuses with 401 is the user's problem, not the
cloud's: the user was deleted or the token revoked or expired after
caas's API (keystonemiddleware, which caches validated tokens) accepted
it. That is a 401 saying so, never a 503. A 401 to caas's own service
credentials stays a 503: the operator has to fix those.
"""

import functools
import hashlib

from oslo_log import log as logging
import tenacity

from caas.common import exceptions
from caas.conf import CONF

LOG = logging.getLogger(__name__)

_FINDERS = {
    'image_id': 'find_image',
    'flavor_id': 'find_flavor',
    'master_flavor_id': 'find_flavor',
    'keypair_id': 'find_keypair',
    'keypair': 'find_keypair',
    'external_network_id': 'find_network',
    'fixed_network': 'find_network',
}


def _lookup(finder, value, field, timeout):
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(exceptions.CloudUnavailable),
        wait=tenacity.wait_exponential(multiplier=0.1, max=1.0),
        stop=tenacity.stop_after_delay(timeout),
        before_sleep=lambda state: LOG.warning(
            'Checking %s %s: %s; retrying', field, value,
            state.outcome.exception()),
        reraise=True)
    return retrying(finder, value)


def check(cloud, values, fields, retry_timeout=None, cache=None, view=None,
          caller=None):
    """Look up each of ``fields`` that has a value.

    :param retry_timeout: seconds to keep retrying a transient failure;
        ``[cloud] reference_retry_timeout`` if None.
    :param cache: a :class:`caas.api.refcache.ReferenceCache` answering
        what was found recently, and remembering what is found now.
    :param view: whose view of the cloud ``cloud`` is (the cache key).
    :param caller: what the look-up is made with (e.g. a digest of the
        user's token): only callers with the same share a look-up under
        way, its answer or its error.
    :returns: {field: what the cloud returned}
    :raises: InvalidParameterValue (400), CloudError (503)
    """
    if retry_timeout is None:
        retry_timeout = CONF.cloud.reference_retry_timeout
    found = {}
    asked = {}      # (finder, value) -> answer: flavor_id and
                    # master_flavor_id are often the same flavor
    for field in fields:
        value = values.get(field)
        if not value:
            continue
        key = (_FINDERS[field], value)
        lookup = functools.partial(_lookup, getattr(cloud, key[0]), value,
                                   field, retry_timeout)
        try:
            if key not in asked:
                asked[key] = (lookup() if cache is None
                              else cache.find((view,) + key, lookup,
                                              (view,) + key + (caller,)))
            found[field] = asked[key]
        except exceptions.NotFound:
            raise exceptions.InvalidParameterValue(
                err='Invalid value for field/attribute %s: %s was not found '
                    'in the cloud.' % (field, value))
        except exceptions.CloudUnauthorized as exc:
            if getattr(cloud, 'as_user', False):
                raise exceptions.UserTokenRejected(
                    message='Could not check %s %s: the %s of the cloud no '
                            'longer accepts your token (401 Unauthorized): '
                            'your user was deleted, or the token revoked or '
                            'expired. Authenticate again and retry.' % (
                                field, value, exc.service))
            raise exceptions.CloudError(
                message="Could not check %s %s: the %s of the cloud refused "
                        "caas's own credentials (401 Unauthorized); an "
                        'operator must fix [cloud] in caas.conf.' % (
                            field, value, exc.service))
        except exceptions.CloudUnavailable as exc:
            raise exceptions.CloudError(
                message='Could not check %s %s: the %s of the cloud is '
                        'unavailable (%s); tried for %g s. Retry later.' % (
                            field, value, exc.service, exc.kwargs.get('err'),
                            retry_timeout))
        except exceptions.CloudError as exc:
            raise exceptions.CloudError(
                message='Could not check %s %s: the cloud answered with an '
                        'error (%s). Retry later.' % (field, value, exc))
    return found


def user_view(context):
    """The cache view of a look-up made as the requesting user: the user
    in the project the token is scoped to (see
    :mod:`caas.api.refcache`)."""
    return ('user', context.user_id, context.project_id)


def user_caller(context):
    """Whom a look-up made as the requesting user may be shared with:
    the holders of the same token (a digest, not the token)."""
    return hashlib.sha256(
        (context.auth_token or '').encode('utf-8')).hexdigest()


def image_distro(image):
    return (image or {}).get('os_distro')
