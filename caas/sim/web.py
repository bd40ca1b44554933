"""Small HTTP helpers shared by the simulated services (no routing)."""

import json

import orjson
import webob

TITLES = {400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
          404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
          409: 'Conflict', 500: 'Internal Server Error',
          503: 'Service Unavailable'}


class ApiError(Exception):
    """An error answer; each service renders it in its own error shape."""

    def __init__(self, code, message, error_type=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.error_type = error_type


def title(code):
    return TITLES.get(code, 'Error')


def json_response(body, status=200, headers=None):
    resp = webob.Response(status=status, charset='UTF-8',
                          content_type='application/json')
    if body is None:
        resp.content_type = None
        resp.body = b''
    else:
        resp.text = json.dumps(body)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def json_body(req):
    if not req.body:
        return {}
    raw = req.body
    try:
        # orjson: a stack create's body (its templates and files) is
        # ~80 kB. What orjson refuses and the stdlib reads (NaN, integers
        # beyond 64 bits) is read by the stdlib, as before.
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, 'Malformed request body')
    if not isinstance(body, dict):
        raise ApiError(400, 'The request body must be a JSON object')
    return body


def token(req):
    """The validated token record of the request (set by the app)."""
    return req.environ['sim.token']
