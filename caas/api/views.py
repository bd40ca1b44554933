"""Rows to Magnum-shaped JSON: full and summary views, links, collections.

Field names are the model's columns (they are Magnum's public names);
internal columns stay out. Views read only the row they are given, so a
list costs one query whatever its length.
"""

import datetime
from urllib import parse

_INTERNAL = {'id', 'operation_id', 'health_checked_at', 'ca_cert',
             'template_labels'}

# Template fields that may carry credentials (http://user:password@proxy).
PROXY_FIELDS = ('http_proxy', 'https_proxy')

CLUSTER_TEMPLATE_SUMMARY = ('uuid', 'name', 'tags', 'hidden', 'links')
CLUSTER_SUMMARY = ('uuid', 'name', 'cluster_template_id', 'keypair',
                   'docker_volume_size', 'labels', 'master_flavor_id',
                   'flavor_id', 'create_timeout', 'node_count', 'status',
                   'master_count', 'stack_id', 'health_status', 'links')
NODEGROUP_SUMMARY = ('uuid', 'name', 'flavor_id', 'image_id', 'node_count',
                     'role', 'is_default', 'status', 'stack_id', 'links')
# Nodegroup fields of microversion 1.14; older requests do not see them.
NODEGROUP_1_14 = ('node_labels', 'node_taints')


def json_value(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    return value


_KEYS = {}


def _public_keys(row):
    """The public column names of a row's model (computed once per model)."""
    cls = type(row)
    keys = _KEYS.get(cls)
    if keys is None:
        keys = _KEYS[cls] = tuple(
            c.key for c in row.__mapper__.column_attrs
            if c.key not in _INTERNAL)
    return keys


def _columns(row):
    return {key: json_value(getattr(row, key)) for key in _public_keys(row)}


def _summary(row, fields):
    """Only the summary's fields, read straight from the row: a list of
    1,000 clusters no longer converts 40 columns per row to keep 15."""
    return {k: json_value(getattr(row, k)) for k in fields if k != 'links'}


def links(base_url, *parts):
    path = '/'.join(str(p) for p in parts)
    return [{'href': '%s/v1/%s' % (base_url, path), 'rel': 'self'},
            {'href': '%s/%s' % (base_url, path), 'rel': 'bookmark'}]


def _pick(full, fields):
    return {k: full.get(k) for k in fields}


def _mask_credentials(url):
    """A proxy URL without its user name and password."""
    try:
        parts = parse.urlsplit(url)
    except ValueError:
        return '***'
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition('@')[2]
    return parse.urlunsplit(parts._replace(netloc='***@' + host))


def cluster_template(row, base_url, summary=False, *, owner):
    """A template's view; ``owner`` is False for a caller of another
    project (a public template), who never sees proxy credentials."""
    data = _columns(row)
    if not owner:
        for field in PROXY_FIELDS:
            if data.get(field):
                data[field] = _mask_credentials(data[field])
    data['links'] = links(base_url, 'clustertemplates', row.uuid)
    return _pick(data, CLUSTER_TEMPLATE_SUMMARY) if summary else data


def cluster(row, base_url, summary=False):
    if summary:
        data = _summary(row, CLUSTER_SUMMARY)
        data['links'] = links(base_url, 'clusters', row.uuid)
        return data
    data = _columns(row)
    data['faults'] = ({'cluster': row.status_reason}
                      if row.status_reason and 'FAILED' in row.status
                      else {})
    data['links'] = links(base_url, 'clusters', row.uuid)
    return _pick(data, CLUSTER_SUMMARY) if summary else data


def nodegroup(row, base_url, summary=False, node_fields=True):
    """:param node_fields: include the 1.14 fields."""
    data = _columns(row)
    if not node_fields:
        for key in NODEGROUP_1_14:
            data.pop(key, None)
    data['links'] = links(base_url, 'clusters', row.cluster_id,
                          'nodegroups', row.uuid)
    return _pick(data, NODEGROUP_SUMMARY) if summary else data


def collection(key, items, rows, page, base_url, path, extra=None):
    """``{key: items}`` plus ``next`` when the page came back full.

    :param extra: query parameters the next page must keep (all_projects).
    """
    body = {key: items}
    nxt = next_link(len(rows), rows[-1].uuid if rows else None, page,
                    base_url, path, extra)
    if nxt:
        body['next'] = nxt
    return body


def next_link(count, last_uuid, page, base_url, path, extra=None):
    """The URL of the next page when this one (``count`` items, the last
    one ``last_uuid``) came back full, else None."""
    if not (page.limit and count == page.limit):
        return None
    query = dict(extra or {})
    query.update(limit=page.limit, marker=last_uuid)
    if page.sort_key != 'id':
        query['sort_key'] = page.sort_key
    if page.sort_dir != 'asc':
        query['sort_dir'] = page.sort_dir
    return '%s/v1/%s?%s' % (base_url, path, parse.urlencode(query))
