"""The names users see for the steps (TaskFlow atoms) of a flow.

Atom names are what TaskFlow persists and matches on resume, so they stay
as they are; a status_reason shows them in a short form instead:
``caas.conductor.tasks.stack.CreateStack`` is step ``create_stack`` and
``wait-stack-create`` is step ``wait_stack_create``.
"""

import re


def step_name(atom_name):
    last = atom_name.rsplit('.', 1)[-1]
    snake = re.sub(r'(?<=[a-z0-9])([A-Z])', r'_\1', last)
    return snake.replace('-', '_').lower()


def atom_order(kind):
    """The atom names of ``kind``'s flow, in the order they run."""
    # Imported here: the tasks name their steps with step_name, and the
    # flows import the tasks.
    from caas.conductor.flows import FACTORIES
    return [atom.name for atom in FACTORIES[kind]()]
