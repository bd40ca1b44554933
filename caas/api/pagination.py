"""List parameters shared by every collection: marker, limit, sort."""

import collections

from caas.common import exceptions

Page = collections.namedtuple('Page', 'marker limit sort_key sort_dir')


def from_args(args, max_limit, sort_keys):
    """Validate ``marker``/``limit``/``sort_key``/``sort_dir`` query args.

    :param sort_keys: the keys that may be sorted on.
    :raises: InvalidParameterValue (400) naming the bad parameter.
    """
    limit = args.get('limit')
    if limit is None or limit == '':
        limit = max_limit
    else:
        try:
            limit = int(limit)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise exceptions.InvalidParameterValue(
                err='Invalid value for limit: %s. It must be a positive '
                    'integer.' % args.get('limit'))
        limit = min(limit, max_limit)
    sort_key = args.get('sort_key') or 'id'
    if sort_key not in sort_keys:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for sort_key: %s. Valid keys are: %s.' % (
                sort_key, ', '.join(sort_keys)))
    sort_dir = (args.get('sort_dir') or 'asc').lower()
    if sort_dir not in ('asc', 'desc'):
        raise exceptions.InvalidParameterValue(
            err="Invalid value for sort_dir: %s. Use 'asc' or 'desc'." %
                sort_dir)
    return Page(args.get('marker') or None, limit, sort_key, sort_dir)
