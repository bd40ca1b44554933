"""Request context: who is asking, carried from the API into policy and logs."""

from oslo_context import context


class RequestContext(context.RequestContext):
    """oslo.context's context; caas adds nothing but a helper."""

    @property
    def is_admin_role(self):
        return 'admin' in (self.roles or [])


def get_admin_context():
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False)
