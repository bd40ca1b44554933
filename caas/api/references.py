"""Checks of cloud references (image, flavors, keypair, networks).

Runs only when ``[cloud] validate_references`` is true. The cloud object
has ``find_image``, ``find_flavor``, ``find_keypair`` and ``find_network``,
each raising ``NotFound`` or ``CloudError``; an unknown reference becomes
a 400 naming the field and value, a failing cloud a 503.
"""

from caas.common import exceptions

_FINDERS = {
    'image_id': 'find_image',
    'flavor_id': 'find_flavor',
    'master_flavor_id': 'find_flavor',
    'keypair_id': 'find_keypair',
    'keypair': 'find_keypair',
    'external_network_id': 'find_network',
    'fixed_network': 'find_network',
}


def check(cloud, values, fields):
    """Look up each of ``fields`` that has a value.

    :returns: {field: what the cloud returned}
    :raises: InvalidParameterValue (400), CloudError (503)
    """
    found = {}
    asked = {}      # (finder, value) -> answer: flavor_id and
                    # master_flavor_id are often the same flavor
    for field in fields:
        value = values.get(field)
        if not value:
            continue
        key = (_FINDERS[field], value)
        try:
            if key not in asked:
                asked[key] = getattr(cloud, key[0])(value)
            found[field] = asked[key]
        except exceptions.NotFound:
            raise exceptions.InvalidParameterValue(
                err='Invalid value for field/attribute %s: %s was not found '
                    'in the cloud.' % (field, value))
        except exceptions.CloudError as exc:
            raise exceptions.CloudError(
                message='Could not check %s %s: the cloud did not answer '
                        '(%s). Retry later.' % (field, value, exc))
    return found


def image_distro(image):
    return (image or {}).get('os_distro')
