"""The HOT language of the simulated Heat, without HTTP."""

import pytest

from caas.sim import hot
from caas.sim import resources


def ctx(params=None):
    return hot.Context(params or {}, ref=lambda n: 'id-' + n,
                       attr=lambda n, a, p: {'n': n, 'a': a, 'p': p},
                       stack_name='s1')


def test_date_version_stays_a_string_in_yaml():
    tpl = hot.parse('heat_template_version: 2018-08-31\nresources: {}\n')
    assert tpl['heat_template_version'] == '2018-08-31'


def test_unknown_version_is_rejected():
    with pytest.raises(hot.HOTError):
        hot.parse({'heat_template_version': 'banana'})


@pytest.mark.parametrize('version', ['1999-01-01', '2021-04-17', 'stein'])
def test_a_version_heat_does_not_know_is_refused_as_heat_refuses_it(
        version):
    # Heat 27 knows eleven dates and six release names, not any date.
    with pytest.raises(hot.HOTError) as caught:
        hot.parse({'heat_template_version': version})
    assert caught.value.error_type == 'InvalidTemplateVersion'
    assert str(caught.value.message).startswith(
        'The template version is invalid: "heat_template_version: %s". '
        '"heat_template_version" should be one of: 2013-05-23, ' % version)


def test_parameters_are_typed():
    tpl = hot.parse({'heat_template_version': 'rocky', 'parameters': {
        'n': {'type': 'number'}, 'l': {'type': 'comma_delimited_list'},
        'b': {'type': 'boolean', 'default': 'false'},
        'j': {'type': 'json', 'default': '{"a": 1}'}}})
    values = hot.resolve_params(tpl, {'n': '3', 'l': 'a, b'})
    assert values == {'n': 3, 'l': ['a', 'b'], 'b': False, 'j': {'a': 1}}


def test_missing_parameter_message():
    tpl = hot.parse({'heat_template_version': 'rocky',
                     'parameters': {'x': {'type': 'string'}}})
    with pytest.raises(hot.HOTError, match=r'The Parameter \(x\) was not '
                                           'provided.'):
        hot.resolve_params(tpl, {})


def test_intrinsic_functions():
    c = ctx({'p': {'a': ['x', 'y']}})
    assert hot.resolve({'get_param': ['p', 'a', 1]}, c) == 'y'
    assert hot.resolve({'get_param': 'OS::stack_name'}, c) == 's1'
    assert hot.resolve({'get_resource': 'r'}, c) == 'id-r'
    assert hot.resolve({'get_attr': ['r', 'a', 0]}, c) == {
        'n': 'r', 'a': 'a', 'p': [0]}
    assert hot.resolve({'str_replace': {'template': '$A-$AB', 'params': {
        '$A': 1, '$AB': 2}}}, c) == '1-2'
    assert hot.resolve({'list_join': [',', ['a'], ['b']]}, c) == 'a,b'
    assert hot.resolve({'str_split': [',', 'a,b', 1]}, c) == 'b'
    assert hot.resolve({'repeat': {'for_each': {'%x%': [1, 2]},
                                   'template': 'v%x%'}}, c) == ['v1', 'v2']
    assert hot.resolve({'if': [{'equals': [1, 1]}, 'yes', 'no']}, c) == 'yes'


def test_dependencies_order_resources():
    tpl = hot.parse({'heat_template_version': 'rocky', 'resources': {
        'b': {'type': 'OS::Heat::None',
              'properties': {'x': {'get_resource': 'a'}}},
        'a': {'type': 'OS::Heat::None', 'depends_on': 'c'},
        'c': {'type': 'OS::Heat::None'}}})
    assert hot.creation_order(tpl) == ['c', 'a', 'b']


def test_validation_finds_bad_reference_and_type():
    tpl = hot.parse({'heat_template_version': 'rocky', 'resources': {
        'b': {'type': 'OS::Heat::None',
              'properties': {'x': {'get_resource': 'nope'}}}}})
    with pytest.raises(hot.HOTError, match='nope'):
        hot.validate(tpl, {}, resources.TYPES)
    tpl = hot.parse({'heat_template_version': 'rocky', 'resources': {
        'g': {'type': 'OS::Heat::ResourceGroup', 'properties': {
            'resource_def': {'type': 'missing.yaml'}}}}})
    with pytest.raises(hot.HOTError, match=r'\(missing.yaml\) could not'):
        hot.validate(tpl, {}, resources.TYPES)


def test_circular_dependency_is_rejected():
    tpl = hot.parse({'heat_template_version': 'rocky', 'resources': {
        'a': {'type': 'OS::Heat::None', 'depends_on': 'b'},
        'b': {'type': 'OS::Heat::None', 'depends_on': 'a'}}})
    with pytest.raises(hot.HOTError, match='Circular'):
        hot.validate(tpl, {}, resources.TYPES)


def test_an_unknown_resource_type_is_a_failed_validation_as_in_heat():
    with pytest.raises(hot.HOTError) as caught:
        hot.validate(hot.parse({'heat_template_version': '2021-04-16',
                                'resources': {'x': {'type': 'OS::No::Such'}}}),
                     {}, ('OS::Heat::Value',), ())
    assert caught.value.error_type == 'StackValidationFailed'
    assert caught.value.message == \
        'The Resource Type (OS::No::Such) could not be found.'


def test_a_template_text_parsed_again_is_a_fresh_copy_equal_to_the_first():
    text = ('heat_template_version: rocky\n'
            'parameters: {size: {type: number, default: 1.5}}\n'
            'resources:\n  r: {type: OS::Heat::None, properties: {a: [1, x]}}\n')
    first = hot.parse(text)
    first['resources']['r']['properties']['a'].append('mutated')
    first['parameters']['size']['default'] = 0
    second = hot.parse(text)
    assert second['resources']['r']['properties']['a'] == [1, 'x']
    assert second['parameters']['size']['default'] == 1.5
    assert second == hot._parse(text)


def test_a_template_with_floats_json_cannot_write_still_parses():
    # .nan and .inf: the cache's JSON has NaN / Infinity, which orjson
    # refuses; such a template is parsed as it was, every time.
    text = ('heat_template_version: rocky\n'
            'parameters: {p: {type: number, default: .inf}}\n'
            'outputs: {o: {value: .nan}}\n')
    for _ in range(2):
        tpl = hot.parse(text)
        assert tpl['parameters']['p']['default'] == float('inf')
        assert tpl['outputs']['o']['value'] != tpl['outputs']['o']['value']
