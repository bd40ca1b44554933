"""oslo.messaging's in-memory ``test`` notification driver, switched on for
one test."""

import oslo_messaging as messaging
from oslo_messaging.notify import _impl_test
import pytest

from caas.common import notifications
from caas.conf import CONF


@pytest.fixture
def notified(conf):
    # Registers [oslo_messaging_notifications], as any notifier does.
    messaging.get_notification_transport(CONF)
    conf('driver', ['test'], group='oslo_messaging_notifications')
    notifications.reset()
    _impl_test.reset()

    def sent(event_type=None):
        """[(event_type, priority, payload, publisher_id)]"""
        return [(m['event_type'], prio, m['payload'], m['publisher_id'])
                for _ctx, m, prio, _retry in _impl_test.NOTIFICATIONS
                if event_type in (None, m['event_type'])]
    yield sent
    notifications.reset()
    _impl_test.reset()
