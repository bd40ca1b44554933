"""What a controller needs from the request it is serving.

The context, the negotiated microversion, the parsed JSON body, the base
URL for links, and the app's collaborators (rpcapi, cloud, driver finder,
configuration), all reachable without passing them by hand.
"""

import flask
import orjson

from caas.api import inputs
from caas.api import middleware


def context():
    return flask.request.environ[middleware.CONTEXT_KEY]


def version():
    return flask.g.version


def request_id():
    return flask.request.environ.get('openstack.request_id')


def services():
    """The ``Services`` the app was built with (see ``caas.api.app``)."""
    return flask.current_app.extensions['caas']


def base_url():
    public = services().conf.api.public_endpoint
    if public:
        return public.rstrip('/')
    return flask.request.host_url.rstrip('/')


def json_body():
    """The request body as JSON; 400 if it is missing, malformed, nested
    too deep or carries a string that is not storable text."""
    return inputs.parse_json(flask.request.get_data(cache=True))


def respond(body, status=200, headers=None):
    # orjson: a page of 1,000 clusters encodes several times faster than
    # with the stdlib, byte-for-byte the same JSON for these bodies.
    resp = flask.Response(orjson.dumps(body), status=status,
                          mimetype='application/json')
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def no_content(status=204):
    return flask.Response(status=status)
