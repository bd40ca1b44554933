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


PROVIDER = '''
heat_template_version: rocky
parameters:
  size: {type: number}
resources:
  inner: {type: OS::Heat::None}
outputs:
  out: {value: {get_attr: [inner, show]}}
'''


def _with_provider():
    return {'heat_template_version': 'rocky', 'resources': {
        'p': {'type': 'provider.yaml', 'properties': {'size': 1}},
        'q': {'type': 'OS::Heat::None', 'properties': {
            'a': {'get_attr': [{'not': 'a call'}, 'x']},
            'b': [{'get_resource': 'p'}, {'get_attr': ['p', 'out', 0]}]}}}}


def test_the_call_walk_finds_calls_in_document_order():
    value = {'a': [{'get_attr': ['x', {'get_resource': 'y'}]}],
             'b': {'get_resource': 'z'}, 'c': 'get_resource'}
    assert hot._walk_calls(value, ('get_attr', 'get_resource')) == [
        ('get_attr', ['x', {'get_resource': 'y'}]),
        ('get_resource', 'y'), ('get_resource', 'z')]


def test_dependency_map_is_dependencies_of_each_resource():
    tpl = hot.parse(_with_provider())
    deps = hot.dependency_map(tpl)
    assert deps == {name: tuple(hot.dependencies(d))
                    for name, d in tpl['resources'].items()}
    assert deps['q'] == ('p',)


def test_dependencies_known_by_text_follow_the_text():
    one = hot.parse({'heat_template_version': 'rocky', 'resources': {
        'a': {'type': 'OS::Heat::None', 'depends_on': 'b'},
        'b': {'type': 'OS::Heat::None'}}})
    assert hot.creation_order(one) == ['b', 'a']
    # The same names, other dependencies: not the first template's answer.
    two = hot.parse({'heat_template_version': 'rocky', 'resources': {
        'a': {'type': 'OS::Heat::None'},
        'b': {'type': 'OS::Heat::None', 'depends_on': 'a'}}})
    assert hot.creation_order(two) == ['a', 'b']
    assert hot.creation_order(one) == ['b', 'a']


def test_a_template_that_passed_is_refused_with_other_files_or_types():
    tpl = hot.parse(_with_provider())
    files = {'provider.yaml': PROVIDER}
    hot.validate(tpl, files, resources.TYPES)
    hot.validate(tpl, files, resources.TYPES)
    # The same template: without the provider's file, or without a type
    # it uses, it is refused every time (a refusal is never remembered).
    for _ in range(2):
        with pytest.raises(hot.HOTError) as err:
            hot.validate(tpl, {}, resources.TYPES)
        assert 'provider.yaml' in err.value.message
    without_none = {k: v for k, v in resources.TYPES.items()
                    if k != 'OS::Heat::None'}
    with pytest.raises(hot.HOTError) as err:
        hot.validate(tpl, files, without_none)
    assert 'OS::Heat::None' in err.value.message
    # A broken provider file under the same name is looked at again.
    with pytest.raises(hot.HOTError):
        hot.validate(tpl, {'provider.yaml': PROVIDER.replace(
            'OS::Heat::None', 'OS::No::Such')}, resources.TYPES)


def test_a_shared_parse_is_one_dict_and_a_parse_a_copy_of_it():
    shared = hot.parse_shared(PROVIDER)
    assert hot.parse_shared(PROVIDER) is shared
    copy = hot.parse(PROVIDER)
    assert copy == shared and copy is not shared
    copy['resources']['extra'] = {'type': 'OS::Heat::None'}
    assert 'extra' not in hot.parse_shared(PROVIDER)
    assert 'extra' not in hot.parse(PROVIDER)['resources']


def test_a_nested_template_that_passed_does_not_pass_another():
    from caas.sim import stacks
    from caas.sim import state
    cloud = state.Cloud()
    bad = PROVIDER.replace('inner: {type: OS::Heat::None}',
                           'inner: {type: OS::Neutron::FloatingIP}')
    with cloud.lock:
        stacks.create_stack(cloud, 'good', 'p', 'u', _with_provider(), {},
                            {'provider.yaml': PROVIDER})
        for name in ('bad1', 'bad2'):
            with pytest.raises(hot.HOTError) as err:
                stacks.create_stack(cloud, name, 'p', 'u', _with_provider(),
                                    {}, {'provider.yaml': bad})
            assert 'floating_network' in err.value.message
        stacks.create_stack(cloud, 'good2', 'p', 'u', _with_provider(), {},
                            {'provider.yaml': PROVIDER})
