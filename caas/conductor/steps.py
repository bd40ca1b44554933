"""The steps of each operation's flow, as users see them.

A task declares its ``step`` (a short name) and ``label`` (what it is
doing); its TaskFlow atom name stays as it is, because TaskFlow persists it
and matches on it when a flow resumes. Progress events, ``status_reason``,
failure reasons and deadline messages all name a step from here, so one
step has one name everywhere.
"""

import functools


@functools.cache
def steps_of(kind):
    """((atom name, step, label), ...) of ``kind``'s flow, in the order the
    steps run (the flows are linear). Built once per kind and process."""
    from caas.conductor.flows import FACTORIES  # the flows import the tasks
    return tuple((atom.name, getattr(atom, 'step', atom.name),
                  getattr(atom, 'label', atom.name))
                 for atom in FACTORIES[kind]())


@functools.cache
def _step_by_atom():
    from caas.conductor.flows import FACTORIES
    return {name: step for kind in FACTORIES
            for name, step, _label in steps_of(kind)}


def step_name(atom_name):
    """The step an atom of any flow stands for (the atom's own name if no
    flow has it)."""
    return _step_by_atom().get(atom_name, atom_name)
