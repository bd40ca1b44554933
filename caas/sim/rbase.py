"""The base of the simulated Heat's resource types.

Each type creates its cloud objects at once and reports its state lazily:
plain resources are COMPLETE ``resource_delay`` seconds after they started.
A resource record is a dict: name, type, props, physical_id, action,
started_at, ready_at, data, nested, failed (a reason when the resource
failed outright). A type declares Heat's property schemas
(``caas.sim.props``) and attribute names; ``properties = None`` accepts
anything (OS::Heat::None, provider templates, which check their own
parameters).
"""

import abc
import string

from caas.sim import hot
from caas.sim import props as p
from caas.sim import state as st

ALWAYS_ATTRIBUTES = ('show',)


def physical_name(stack, res):
    suffix = ''.join(st.random.choice(string.ascii_lowercase + string.digits)
                     for _ in range(12))
    return '%s-%s-%s' % (stack['name'][:60], res['name'][:60], suffix)


def fail(res, error_type, message):
    """Fail ``res`` outright with Heat's reason shape."""
    res['failed'] = '%s: resources.%s: %s' % (error_type, res['name'],
                                                message)


class Resource(object):
    """A resource that only takes ``resource_delay`` to settle."""

    properties = None
    attributes = ()

    def validate(self, res_name, props):
        """Raise HOTError for what Heat refuses in ``props``."""
        if self.properties is not None:
            p.check(res_name, self.properties, props)

    def has_attribute(self, name, definition, files):
        """Whether ``get_attr`` may read ``name``; None: cannot tell."""
        if self.properties is None:
            return None
        return name in self.attributes or name in ALWAYS_ATTRIBUTES

    def create(self, cloud, stack, res):
        res['physical_id'] = st.new_uuid()
        self.settle_later(cloud, res)

    def update(self, cloud, stack, res, props):
        res['props'] = props
        self.settle_later(cloud, res)

    def delete(self, cloud, stack, res):
        """Release what ``create`` made; nothing for a plain resource."""

    def settle_later(self, cloud, res, delay=None):
        if delay is None:
            delay = cloud.knobs['resource_delay']
        res['ready_at'] = res['started_at'] + delay

    def state(self, cloud, stack, res):
        """(IN_PROGRESS|COMPLETE|FAILED, reason, time reached)."""
        if res.get('failed'):
            return 'FAILED', res['failed'], res['started_at']
        if st.now() < res['ready_at']:
            return 'IN_PROGRESS', '', None
        return 'COMPLETE', '', res['ready_at']

    def ref(self, cloud, res):
        return res.get('physical_id')

    def attr(self, cloud, stack, res, name, path):
        data = res.get('data') or {}
        if name == 'show' and 'show' not in data:
            return hot._dig(dict(res.get('props') or {},
                                 id=res.get('physical_id')), path)
        return hot._dig(data.get(name), path)


class Recorded(Resource, metaclass=abc.ABCMeta):
    """A resource that is a record of one of the cloud's tables (``kind``):
    created with ``record()``'s fields, removed on delete, its attributes
    read from the record."""

    kind = None

    @abc.abstractmethod
    def record(self, cloud, stack, res):
        """The fields of the new record, or None after ``fail``."""

    def create(self, cloud, stack, res):
        res['physical_id'] = st.new_uuid()
        self.settle_later(cloud, res)
        rec = self.record(cloud, stack, res)
        if rec is None:
            return
        rec.update(id=res['physical_id'], project_id=stack['project_id'])
        cloud.data[self.kind][rec['id']] = rec

    def update(self, cloud, stack, res, props):
        res['props'] = props
        self.settle_later(cloud, res)
        rec = self.record(cloud, stack, res)
        old = cloud.data[self.kind].get(res.get('physical_id'))
        if rec is not None and old is not None:
            rec.update(id=old['id'], project_id=old['project_id'])
            cloud.data[self.kind][old['id']] = rec

    def delete(self, cloud, stack, res):
        cloud.data[self.kind].pop(res.get('physical_id'), None)

    def values(self, cloud, rec):
        """Attribute values of the record (its fields by default)."""
        return dict(rec)

    def attr(self, cloud, stack, res, name, path):
        rec = cloud.data[self.kind].get(res.get('physical_id'))
        if rec is None:
            return None
        values = self.values(cloud, rec)
        values.setdefault('show', dict(rec))
        return hot._dig(values.get(name), path)
