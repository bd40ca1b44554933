"""Fuzzing the API: generated requests from its own OpenAPI description
(schemathesis) and hand-written hostile ones, on any database.

Shared by ``tests/unit/api/test_fuzz.py`` (SQLite) and
``tests/integration/test_fuzz_postgresql.py`` (PostgreSQL). Every response
is checked the same way (:meth:`Harness.observe`):

- never a 5xx;
- an error is JSON in Magnum's shape (``errors.ERROR_SCHEMA``) whose status
  matches the response and whose title says something (not just "Bad
  Request"); a redirect has no body; nothing is HTML;
- a rejected request (or any GET) changed nothing stored: every table is
  read before and after and compared, and no RPC was cast.

The status codes seen are tallied per database in :data:`TALLY`, printed at
the end of the pytest run (``tests/conftest.py``).
"""

import collections
import json
import re

from cryptography import fernet
import hypothesis
from hypothesis import HealthCheck
import jsonschema
import schemathesis
from schemathesis import GenerationMode
import sqlalchemy as sa
from werkzeug import test as wz_test

from caas.api import app as api_app
from caas.api import errors
from caas.api import openapi
from caas.conf import CONF

#: backend name -> Counter of status codes
TALLY = collections.defaultdict(collections.Counter)

LATEST = {'OpenStack-API-Version': 'container-infra latest'}
GENERIC_TITLES = {'bad request', 'not found', 'error', 'unknown error',
                  'an unknown error occurred.'}


def description():
    """The OpenAPI document of the app, as the API serves it."""
    flask_app = api_app.build_flask_app(api_app.Services(CONF))
    return openapi.document(flask_app)


def operation_labels():
    doc = description()
    return ['%s %s' % (method.upper(), path)
            for path, item in sorted(doc['paths'].items())
            for method in sorted(item)]


class Harness:
    """Sends requests to a WSGI app and checks every answer."""

    def __init__(self, backend, wsgi_app, rpc, engine):
        self.backend = backend
        self.app = wsgi_app
        self.client = wz_test.Client(wsgi_app)
        self.rpc = rpc
        self.engine = engine
        meta = sa.MetaData()
        meta.reflect(engine)
        self.tables = list(meta.sorted_tables)
        self.last = self.snapshot()
        self.count = 0

    def snapshot(self):
        """Every row of every table, in a stable order."""
        rows = {}
        with self.engine.connect() as conn:
            for table in self.tables:
                order = list(table.primary_key.columns) or list(table.columns)
                rows[table.name] = [tuple(r) for r in conn.execute(
                    sa.select(table).order_by(*order))]
        return rows

    def request(self, method, path, raw=None, headers=None, query=None,
                expect=None, names=()):
        """Send one request and :meth:`observe` the answer."""
        hdrs = dict(headers or {})
        if raw is not None:
            hdrs.setdefault('Content-Type', 'application/json')
        resp = self.client.open(path, method=method, data=raw,
                                headers=hdrs, query_string=query)
        return self.observe(method, path, resp.status_code, resp.headers,
                            resp.get_data(), expect=expect, names=names)

    def observe(self, method, what, status, headers, body, expect=None,
                names=()):
        """Check one answer; return its parsed JSON body (or None).

        :param expect: a status (or tuple of statuses) the answer must have.
        :param names: words the error title must contain (case-insensitive).
        """
        self.count += 1
        if self.backend:        # None: a test of the harness itself
            TALLY[self.backend][status] += 1
        label = '%s %s -> %s' % (method, what, status)
        assert status < 500, '%s: %s' % (label, body[:500])
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            assert status in wanted, '%s: %s' % (label, body[:500])
        text = body.decode('utf-8', 'replace')
        assert '<html' not in text.lower() and \
            '<!doctype' not in text.lower(), label
        parsed = None
        if 300 <= status < 400:
            assert body == b'', '%s: a redirect with a body' % label
        if status >= 400:
            assert headers.get('Content-Type', '').startswith(
                'application/json'), label
            parsed = json.loads(body)
            jsonschema.validate(parsed, errors.ERROR_SCHEMA)
            error = parsed['errors'][0]
            assert error['status'] == status, label
            title = error['title']
            assert title.strip().lower() not in GENERIC_TITLES, (label, title)
            assert 'Traceback' not in title, label
            for name in names:
                assert name.lower() in title.lower(), (label, title, name)
        elif body and headers.get('Content-Type', '').startswith(
                'application/json'):
            parsed = json.loads(body)
        self._check_nothing_changed(method, status, label)
        return parsed

    def _check_nothing_changed(self, method, status, label):
        now = self.snapshot()
        if status >= 400 or method in ('GET', 'HEAD'):
            assert now == self.last, '%s changed the database' % label
            assert len(self.rpc.casts) == self.casts_seen, \
                '%s cast an RPC' % label
        self.last = now
        self.casts_seen = len(self.rpc.casts)

    casts_seen = 0

    # -- generated requests ---------------------------------------------------

    def fuzz_operation(self, label, examples, seeds):
        """Generated requests to one operation, three ways: schema-valid
        values, schema-violating values (schemathesis' negative mode), and
        valid values aimed at existing resources with the latest
        microversion (``seeds``: path parameter name -> value)."""
        schema = schemathesis.openapi.from_dict(description())
        schema.app = self.app
        operation = schema.find_operation_by_label(label)
        assert operation is not None, label
        params = set(re.findall(r'{(\w+)}', label))
        fixed = {k: v for k, v in seeds.items() if k in params}
        passes = [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                  path_parameters=fixed or None,
                                  headers=dict(LATEST)),
        ]
        for strategy in passes:
            self._run(strategy, examples, label)

    def _run(self, strategy, examples, label):
        @hypothesis.given(case=strategy)
        @hypothesis.settings(max_examples=examples, deadline=None,
                             database=None, derandomize=False,
                             suppress_health_check=list(HealthCheck))
        def send(case):
            resp = case.call()
            headers = {k: (v[0] if isinstance(v, list) else v)
                       for k, v in resp.headers.items()}
            headers = {_title(k): v for k, v in headers.items()}
            self.observe(case.method, '%s (%s)' % (
                case.formatted_path, label), resp.status_code, headers,
                resp.content)
        send()


def _title(name):
    return '-'.join(p.capitalize() for p in name.split('-'))


# -- the app under test and its seeds ----------------------------------------

def find_driver(server_type, os_distro, coe, explicit=None):
    """Kubernetes on the fake cloud's images, with the fake driver."""
    from caas.common import exceptions
    from caas.drivers.fake import driver as fake_driver
    if coe != 'kubernetes' or os_distro not in ('fedora-coreos', 'ubuntu'):
        raise exceptions.DriverNotFound(server_type=server_type,
                                        os=os_distro, coe=coe)
    return fake_driver.FakeDriver()


PKI_KEY = fernet.Fernet.generate_key().decode()


def build_app(rpc, cloud):
    """The API with noauth and reference checks; undo with :func:`reset`."""
    from caas.common import policy
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('validate_references', True, group='cloud')
    CONF.set_override('encryption_keys', [PKI_KEY], group='pki')
    # Streams end at once: a fuzzed request must not hold the run.
    CONF.set_override('event_stream_lifetime', 0.1, group='api')
    # Every fuzzed endpoint gets its own world of clusters in one project,
    # more than the default quota of 20; the quota has its own tests.
    CONF.set_override('max_clusters_per_project', 1000000, group='quotas')
    policy.reset()
    return api_app.build_app(CONF, rpcapi=rpc, cloud=cloud,
                             find_driver=find_driver)


def reset():
    from caas.common import policy
    CONF.clear_override('auth_strategy')
    CONF.clear_override('validate_references', group='cloud')
    CONF.clear_override('encryption_keys', group='pki')
    CONF.clear_override('event_stream_lifetime', group='api')
    CONF.clear_override('max_clusters_per_project', group='quotas')
    policy.reset()


TEMPLATE = {'name': 'k8s', 'coe': 'kubernetes', 'image_id': 'fedora-coreos',
            'flavor_id': 'm1.small', 'master_flavor_id': 'm1.large',
            'keypair_id': 'default', 'external_network_id': 'public'}


def seed(harness):
    """A template and a cluster to aim at; {path parameter: value}."""
    body = harness.request('POST', '/v1/clustertemplates',
                           json.dumps(TEMPLATE), headers=LATEST, expect=201)
    cluster = harness.request(
        'POST', '/v1/clusters', json.dumps({
            'name': 'target', 'cluster_template_id': body['uuid']}),
        headers=LATEST, expect=202)
    return {'template': body['uuid'], 'cluster': cluster['uuid'],
            'nodegroup': 'default-worker'}


# -- hand-written hostile requests --------------------------------------------

def _string_fields(schema):
    return sorted(name for name, prop in schema['properties'].items()
                  if 'string' in _types(prop) or 'enum' in prop)


def _types(prop):
    kind = prop.get('type')
    return set(kind) if isinstance(kind, list) else {kind}


def _integer_fields(schema):
    return sorted(name for name, prop in schema['properties'].items()
                  if 'integer' in _types(prop))


def body_endpoints(seeds):
    """(method, path, a valid body, its JSON Schema) of every body route."""
    from caas.api.schemas import cluster as cluster_schema
    from caas.api.schemas import clustertemplate as template_schema
    t, c = seeds['template'], seeds['cluster']
    return [
        ('POST', '/v1/clustertemplates', dict(TEMPLATE),
         template_schema.CREATE),
        ('POST', '/v1/clusters', {'cluster_template_id': t, 'name': 'c2'},
         cluster_schema.create(0)),
        ('POST', '/v1/clusters/%s/actions/resize' % c, {'node_count': 2},
         cluster_schema.resize(0)),
    ]


def patch_endpoints(seeds):
    return [('PATCH', '/v1/clustertemplates/%s' % seeds['template']),
            ('PATCH', '/v1/clusters/%s' % seeds['cluster'])]


def hostile_requests(seeds):
    """(label, method, path, raw body, headers, query, expect, names)."""
    cases = []

    def add(label, method, path, raw=None, headers=None, query=None,
            expect=400, names=()):
        if raw is not None and not isinstance(raw, (bytes, str)):
            raw = json.dumps(raw)
        cases.append((label, method, path, raw, dict(LATEST, **(
            headers or {})), query, expect, names))

    deep_array = '[' * 1000 + ']' * 1000
    deep_object = '{"a": ' * 1000 + '1' + '}' * 1000
    ten_mb = '{"name": "%s"}' % ('x' * (10 * 1024 * 1024))
    every_body = [(m, p) for m, p, _, _ in body_endpoints(seeds)] + \
        patch_endpoints(seeds)
    for method, path in every_body:
        add('1,000-deep array', method, path, deep_array, names=('nested',))
        add('1,000-deep object', method, path, deep_object,
            names=('nested',))
        add('10 MB body', method, path, ten_mb, expect=413,
            names=('too large',))
        add('not UTF-8', method, path, b'{"name": "\xff\xfe"}',
            names=('UTF-8',))
        for constant in ('NaN', 'Infinity', '-Infinity', '1e999'):
            add('number %s' % constant, method, path,
                '{"node_count": %s}' % constant, names=('JSON',))
        add('5,000-digit integer', method, path,
            '{"node_count": %s}' % ('9' * 5000), names=('digits',))

    for method, path, valid, schema in body_endpoints(seeds):
        for field in _string_fields(schema):
            for bad, word in (('\ud800', 'surrogate'), ('a\x00b', 'NUL')):
                add('%s in %s' % (word, field), method, path,
                    dict(valid, **{field: bad}), names=(field, word))
        for field in _integer_fields(schema):
            for bad in (10 ** 30, -10 ** 30):
                add('huge integer in %s' % field, method, path,
                    dict(valid, **{field: bad}), names=(field,))
        for field in sorted(schema['properties']):
            for bad in ([[1]], {'x': {'y': 1}}):
                add('wrong type in %s' % field, method, path,
                    dict(valid, **{field: bad}), names=(field,))
        if 'labels' in schema['properties']:
            for bad in ('{' * 50000, '[' * 50000, "{'a': " * 10000,
                        "{'a': '%s" % ('x' * 50000), '=' * 50000,
                        'x' * 70000):
                add('50k labels string', method, path,
                    dict(valid, labels=bad), names=('labels',))
            for key, value in (('\ud800', 'v'), ('k', '\ud800'),
                               ('a\x00', 'v'), ('k', 'v\x00')):
                add('bad text in a label', method, path,
                    dict(valid, labels={key: value}), names=('labels',))
            add('NUL escaped in a labels string', method, path,
                dict(valid, labels="{'a': 'b\\x00'}"), names=('NUL',))
            add('surrogate escaped in a labels string', method, path,
                dict(valid, labels="{'a': '\\ud800'}"),
                names=('surrogate',))
        if 'name' in schema['properties'] and \
                'pattern' in schema['properties']['name']:
            add('trailing newline in name', method, path,
                dict(valid, name='abc\n'), names=('name',))
        if 'nodes_to_remove' in schema['properties']:
            for bad, word in (('\ud800', 'surrogate'), ('\x00', 'NUL')):
                add('%s in nodes_to_remove' % word, method, path,
                    dict(valid, nodes_to_remove=[bad]),
                    names=('nodes_to_remove', word))

    for method, path in patch_endpoints(seeds):
        field = 'name' if 'templates' in path else 'node_count'
        for bad, word in (('\ud800', 'surrogate'), ('a\x00', 'NUL')):
            add('%s in a patch value' % word, method, path,
                [{'op': 'replace', 'path': '/' + field, 'value': bad}],
                names=(word,))
            add('%s in a patch path' % word, method, path,
                [{'op': 'replace', 'path': '/' + bad, 'value': 'x'}],
                names=(word,))
        add('labels patched as a deep string', method, path,
            [{'op': 'add', 'path': '/labels', 'value': '{' * 50000}],
            expect=400)

    idents = {'template': '/v1/clustertemplates/%s',
              'cluster': '/v1/clusters/%s',
              'nodegroup': '/v1/clusters/%s/nodegroups/%%s' % seeds[
                  'cluster']}
    for kind, pattern in idents.items():
        for method in ('GET', 'PATCH', 'DELETE') if kind != 'nodegroup' \
                else ('GET',):
            add('NUL in a %s id' % kind, method, pattern % 'a%00b',
                names=('NUL',))
            add('invalid UTF-8 in a %s id' % kind, method,
                pattern % '%ED%A0%80', expect=(400, 404))
    for path in ('/v1/clusters', '/v1/clustertemplates/detail'):
        for param in ('marker', 'sort_key', 'sort_dir', 'limit'):
            add('NUL in %s' % param, 'GET', path,
                query='%s=a%%00b' % param, names=(param, 'NUL'))
            add('invalid UTF-8 in %s' % param, 'GET', path,
                query='%s=%%ED%%A0%%80' % param, names=('UTF-8',))
        add('huge limit', 'GET', path, query='limit=' + '9' * 5000,
            names=('limit',))
        add('long marker', 'GET', path, query='marker=' + 'm' * 50000,
            expect=(200, 400, 404))
    for header in ('X-Project-Id', 'X-User-Id', 'X-Roles',
                   'OpenStack-API-Version'):
        add('NUL in %s' % header, 'GET', '/v1/clusters',
            headers={header: 'a\x00b'}, names=(header, 'NUL'))
    add('long X-Project-Id', 'GET', '/v1/clusters',
        headers={'X-Project-Id': 'p' * 300}, names=('X-Project-Id',))
    add('huge microversion', 'GET', '/v1/clusters',
        headers={'OpenStack-API-Version': 'container-infra 1.' + '9' * 5000},
        expect=406, names=('version',))
    add('unknown URL', 'GET', '/v1/nothing-here', expect=404,
        names=('/v1/nothing-here',))
    add('wrong method', 'PUT', '/v1/clusters', expect=405, names=('PUT',))
    add('double slash', 'GET', '/v1//clusters', expect=(308, 404))
    return cases


def run_hostile(harness, seeds):
    """Send every hostile request; returns how many were sent."""
    cases = hostile_requests(seeds)
    for label, method, path, raw, headers, query, expect, names in cases:
        try:
            harness.request(method, path, raw=raw, headers=headers,
                            query=query, expect=expect, names=names)
        except AssertionError as exc:
            raise AssertionError('hostile case %r: %s' % (label, exc))
    return len(cases)
