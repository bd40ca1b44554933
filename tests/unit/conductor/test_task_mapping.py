"""Each task's arguments are mapped once per class (caas.conductor.tasks
.common.Task), the same as TaskFlow maps them itself."""

from taskflow import task as tf_task

from caas.common import states
from caas.conductor import flows
from caas.conductor.tasks import common


def _mapping(atom):
    return (dict(atom.rebind), list(atom.requires), list(atom.optional),
            dict(atom.revert_rebind), list(atom.revert_optional),
            list(atom.provides))


def test_every_flows_tasks_map_their_arguments_as_taskflow_does(
        monkeypatch):
    built = {kind: list(factory()) for kind, factory in
             flows.FACTORIES.items()}
    # TaskFlow's own mapping, with nothing kept.
    monkeypatch.setattr(common.Task, '_build_arg_mapping',
                        tf_task.Task._build_arg_mapping)
    for kind, factory in flows.FACTORIES.items():
        plain = list(factory())
        assert [_mapping(a) for a in built[kind]] == \
            [_mapping(a) for a in plain], kind


def test_a_class_is_inspected_once(monkeypatch):
    inspected = []
    real = tf_task.Task._build_arg_mapping

    def counted(self, executor, *args, **kwargs):
        inspected.append(executor.__name__)
        return real(self, executor, *args, **kwargs)
    monkeypatch.setattr(tf_task.Task, '_build_arg_mapping', counted)
    common._ARG_MAPPINGS.clear()
    kind = states.OP_CLUSTER_CREATE
    first = list(flows.FACTORIES[kind]())
    once = len(inspected)
    second = list(flows.FACTORIES[kind]())
    assert once and len(inspected) == once
    # Each task has a mapping of its own.
    second[1].rebind['x'] = 'y'
    assert 'x' not in first[1].rebind
