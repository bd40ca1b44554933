"""caas.api.inputs and the text checks in front of the API: each test tries
to slip a hostile value past one check."""

import json

import pytest

from caas.api import inputs
from caas.common import coercion
from caas.common import exceptions
from caas.common import validator
from tests.unit.api.conftest import LATEST
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import template_body

HEADERS = dict(PROJECT_A, **LATEST)


@pytest.mark.parametrize('depth', [1, 31, 32])
def test_json_at_the_depth_limit_parses(depth):
    text = '[' * depth + ']' * depth
    assert not inputs.json_too_deep(text)
    assert inputs.parse_json(text.encode()) is not None


@pytest.mark.parametrize('text', [
    '[' * 33 + ']' * 33,
    '{"a": ' * 33 + '1' + '}' * 33,
    '[' * 100000,                               # never closed
    '[{' * 17 + '}]' * 17,
])
def test_json_deeper_than_the_limit_is_refused_before_parsing(text):
    assert inputs.json_too_deep(text)
    with pytest.raises(exceptions.InvalidParameterValue, match='nested'):
        inputs.parse_json(text.encode())


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({'a': '[' * 1000, 'b': '\\"[[[' * 100, 'c': '"{{{'})
    assert not inputs.json_too_deep(text)
    assert inputs.parse_json(text.encode())['a'] == '[' * 1000


def test_an_escaped_quote_does_not_end_a_string():
    # If \" ended the string, the brackets after it would count.
    text = '["\\"' + '[' * 40 + '"]'
    assert not inputs.json_too_deep(text)


@pytest.mark.parametrize('raw, word', [
    (b'{"a": "\\ud800"}', 'surrogate'),
    (b'{"a": "\\udfff x"}', 'surrogate'),
    (b'{"a": "x\\u0000"}', 'NUL'),
    (b'{"\\u0000": 1}', 'NUL'),
    (b'{"a": [{"b": ["\\ud800"]}]}', 'surrogate'),
    (b'{"a": NaN}', 'JSON'),
    (b'{"a": -Infinity}', 'JSON'),
    (b'{"a": 1e400}', 'range'),
    (b'\xef\xbb\xbf{}', 'JSON'),
    (b'{"a": "\xed\xa0\x80"}', 'UTF-8'),
])
def test_bodies_that_are_not_storable_text_are_refused(raw, word):
    with pytest.raises(exceptions.InvalidParameterValue) as info:
        inputs.parse_json(raw)
    assert word.lower() in str(info.value).lower()


def test_the_field_of_a_bad_string_is_named():
    with pytest.raises(exceptions.InvalidParameterValue,
                       match='field/attribute a/0/b'):
        inputs.parse_json(b'{"a": [{"b": "\\u0000"}]}')


def test_astral_characters_are_text():
    assert inputs.parse_json('{"a": "\U0001f600 \\ud83d\\ude00"}'.encode()) \
        == {'a': '\U0001f600 \U0001f600'}


def test_long_values_are_not_echoed_whole():
    assert len(inputs.shorten('x' * 50000)) < 120
    assert inputs.shorten('a\x00\ud800') == 'a\\x00\\ud800'


# -- names matched in full -------------------------------------------------


@pytest.mark.parametrize('value', ['abc\n', 'abc\n\n', '\nabc', 'ab c'])
def test_a_pattern_with_an_end_anchor_matches_the_whole_string(value):
    schema = {'type': 'string', 'pattern': '^[a-z]+$'}
    assert not validator.Validator(schema).is_valid(value)


def test_a_dollar_in_a_class_or_escaped_stays_literal():
    assert validator.Validator({'pattern': r'^[$]\$$'}).is_valid('$$')
    assert not validator.Validator({'pattern': r'^[$]\$$'}).is_valid('$$\n')


def test_cluster_name_with_a_trailing_newline_is_refused(api, template):
    resp = api.post('/v1/clusters', {'name': 'demo\n',
                                     'cluster_template_id': template['uuid']},
                    headers=HEADERS)
    assert resp.status_code == 400
    assert 'name' in resp.json_body['errors'][0]['title']


def test_driver_label_with_a_trailing_newline_is_refused():
    from caas.drivers.kubernetes import driver as k8s
    with pytest.raises(exceptions.InvalidParameterValue, match='kube_tag'):
        k8s.UbuntuKubernetesDriver().validate_labels(
            {'kube_tag': 'v1.29.6\n'})


# -- labels as a string ----------------------------------------------------


@pytest.mark.parametrize('text, labels', [
    ("{'a': 'b', 'c': 'd'}", {'a': 'b', 'c': 'd'}),     # magnumclient's str()
    ('{"a": "b"}', {'a': 'b'}),
    ("{'it\\'s': \"x,y\"}", {"it's": 'x,y'}),
    (str({'q': 'say "hi"', 'u': 'caf\u00e9'}), {'q': 'say "hi"',
                                                'u': 'caf\u00e9'}),
    ('{}', {}),
    ('  { "a" : "b" , }  ', {'a': 'b'}),
    ('a=b,c=d', {'a': 'b', 'c': 'd'}),
    ('a=b;c=d', {'a': 'b', 'c': 'd'}),
    ('a=b,a=c', {'a': 'b,c'}),
    ('a=b=c', {'a': 'b=c'}),
])
def test_labels_strings_clients_send_are_read(text, labels):
    assert coercion.parse_mapping(text) == labels


@pytest.mark.parametrize('text', [
    '{' * 50000, '[' * 50000, "{'a': " * 10000, "{'a': '%s" % ('x' * 50000),
    '(' * 50000, "{'a': 'b'} extra", "{'a': 1}", "{'a': {'b': 'c'}}",
    "{'a': 'b' 'c'}", "{'a': '\\N{nope}'}", 'no equals sign',
    'x' * (coercion.MAX_MAPPING_TEXT + 1), "{'a': __import__('os')}",
])
def test_hostile_labels_strings_are_a_syntax_error(text):
    with pytest.raises(coercion.MappingSyntaxError):
        coercion.parse_mapping(text)


def test_a_labels_string_is_a_400_naming_labels(api):
    resp = api.post('/v1/clustertemplates',
                    template_body(labels='{' * 50000), headers=HEADERS)
    assert resp.status_code == 400
    assert 'labels' in resp.json_body['errors'][0]['title']


def test_a_nul_escaped_inside_a_labels_string_is_refused(api):
    resp = api.post('/v1/clustertemplates',
                    template_body(labels="{'a': 'b\\x00'}"), headers=HEADERS)
    assert resp.status_code == 400
    assert 'NUL' in resp.json_body['errors'][0]['title']


def test_integers_as_strings_are_bounded():
    schema = {'type': 'integer'}
    assert coercion.from_string(' 12 ', schema) == 12
    assert coercion.from_string('9' * 5000, schema) == '9' * 5000
    assert coercion.from_string('1_000', schema) == '1_000'


# -- path, query and headers -----------------------------------------------


@pytest.mark.parametrize('path, word', [
    ('/v1/clusters/a%00b', 'URL path'),
    ('/v1/clustertemplates/%00', 'URL path'),
    ('/v1/clusters?marker=a%00', 'marker'),
    ('/v1/clusters?sort_key=%00', 'sort_key'),
    ('/v1/clusters?a%00=1', 'query parameter name'),
    ('/v1/clusters?marker=%ED%A0%80', 'UTF-8'),
    ('/v1/clusters?marker=%FF', 'UTF-8'),
])
def test_nul_or_bad_utf8_in_the_url_is_a_400(api, path, word):
    resp = api.get(path, headers=HEADERS)
    assert resp.status_code == 400
    assert word in resp.json_body['errors'][0]['title']


def test_the_guard_reads_the_raw_wsgi_path():
    # A real server hands PATH_INFO over as latin-1 of the raw bytes.
    environ = {'PATH_INFO': b'/v1/clusters/\xed\xa0\x80'.decode('latin-1'),
               'QUERY_STRING': ''}
    with pytest.raises(exceptions.InvalidParameterValue, match='UTF-8'):
        inputs.check_environ(environ)
    environ['PATH_INFO'] = '/v1/clusters/caf\u00e9'.encode().decode(
        'latin-1')
    inputs.check_environ(environ)


@pytest.mark.parametrize('header', ['X-Project-Id', 'X-User-Id', 'X-Roles',
                                    'OpenStack-API-Version'])
def test_nul_in_a_header_is_a_400_naming_it(api, header):
    resp = api.get('/v1/clusters', headers=dict(HEADERS, **{
        header: 'a\x00b'}))
    assert resp.status_code == 400
    assert header.lower() in resp.json_body['errors'][0]['title'].lower()


def test_an_identity_longer_than_its_column_is_a_400(api):
    resp = api.get('/v1/clusters', headers=dict(HEADERS, **{
        'X-Project-Id': 'p' * 256}))
    assert resp.status_code == 400
    assert 'X-Project-Id' in resp.json_body['errors'][0]['title']


# -- error bodies for every status -------------------------------------------


def test_413_names_the_limit_without_html_or_placeholders(api):
    from caas.conf import CONF
    resp = api.post('/v1/clustertemplates', raw='x' * (10 * 1024 * 1024),
                    headers=dict(HEADERS, **{
                        'Content-Type': 'application/json'}))
    assert resp.status_code == 413
    title = resp.json_body['errors'][0]['title']
    assert str(CONF.api.max_request_body_size) in title
    assert '%s' not in title and '<' not in title


def test_413_without_a_content_length(api):
    # A chunked body is counted as it is read.
    import io
    from caas.conf import CONF
    body = io.BytesIO(b'x' * (CONF.api.max_request_body_size + 10))
    resp = api.client.open('/v1/clustertemplates', method='POST',
                           input_stream=body, headers=dict(HEADERS, **{
                               'Content-Type': 'application/json',
                               'Transfer-Encoding': 'chunked'}))
    assert resp.status_code == 413
    title = json.loads(resp.data)['errors'][0]['title']
    assert str(CONF.api.max_request_body_size) in title


def test_a_redirect_has_no_html_body(api):
    resp = api.get('/v1//clusters', headers=HEADERS)
    assert resp.status_code == 308
    assert resp.headers['Location'].endswith('/v1/clusters')
    assert resp.data == b''
    assert 'html' not in resp.headers.get('Content-Type', '')


@pytest.mark.parametrize('method, path, status', [
    ('GET', '/nothing', 404), ('GET', '/v1/clusters/a/b/c', 404),
    ('DELETE', '/v1/clusters', 405), ('POST', '/v1/mservices', 405),
    ('PUT', '/', 405),
])
def test_every_error_status_is_json_in_magnums_shape(api, method, path,
                                                     status):
    resp = api.request(method, path, headers=HEADERS)
    assert resp.status_code == status
    assert resp.mimetype == 'application/json'
    assert resp.json_body['errors'][0]['status'] == status


def test_an_html_error_page_from_middleware_becomes_plain_json():
    import webob
    import webob.exc

    from caas.api import errors

    def app(environ, start_response):
        exc = webob.exc.HTTPForbidden(explanation='No entry & more.')
        return exc(environ, start_response)
    req = webob.Request.blank('/v1/clusters', headers={'Accept': 'text/html'})
    resp = req.get_response(errors.ParsableErrorMiddleware(app))
    assert resp.status_code == 403
    title = json.loads(resp.body)['errors'][0]['title']
    assert '<' not in title and '&amp;' not in title
    assert 'No entry & more.' in ' '.join(title.split())
