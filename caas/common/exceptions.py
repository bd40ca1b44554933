"""One exception base with a message template and an HTTP code.

The API turns any ``CaasException`` into Magnum's error body with its
``code``; anything else becomes a 500 without a traceback in the body.
"""


class CaasException(Exception):
    """Base of every error caas raises on purpose."""

    message = 'An unknown error occurred.'
    code = 500

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                message = self.message
        self.msg = message
        super().__init__(message)

    def __str__(self):
        return self.msg


class Invalid(CaasException):
    message = 'Unacceptable parameters.'
    code = 400


class InvalidParameterValue(Invalid):
    message = '%(err)s'


class NotFound(CaasException):
    message = 'Resource could not be found.'
    code = 404


class ClusterTemplateNotFound(NotFound):
    message = 'ClusterTemplate %(clustertemplate)s could not be found.'


class ClusterNotFound(NotFound):
    message = 'Cluster %(cluster)s could not be found.'


class NodeGroupNotFound(NotFound):
    message = 'Nodegroup %(nodegroup)s could not be found.'


class OperationNotFound(NotFound):
    message = 'Operation %(operation)s could not be found.'


class QuotaNotFound(NotFound):
    message = ('Quota for project %(project_id)s and resource %(resource)s '
               'could not be found.')


class Conflict(CaasException):
    message = 'Conflict.'
    code = 409


class Duplicate(Conflict):
    message = 'A %(kind)s with %(field)s %(value)s already exists.'


class ClusterTemplateReferenced(Conflict):
    message = ('ClusterTemplate %(clustertemplate)s is referenced by one or '
               'more clusters.')


class Ambiguous(Conflict):
    message = ('Multiple %(kind)s exist with the name %(name)s; use the '
               'UUID to be more specific.')


class OperationInProgress(Conflict):
    message = ('Cluster %(cluster)s already has an operation in progress '
               '(%(status)s); retry when it has finished.')


class NodeGroupAlreadyExists(Conflict):
    message = ('A nodegroup with name %(name)s already exists in cluster '
               '%(cluster)s.')


class InvalidState(Conflict):
    message = '%(err)s'


class QuotaAlreadyExists(Conflict):
    message = ('Quota for project %(project_id)s and resource %(resource)s '
               'already exists; change it with PATCH /v1/quotas/'
               '%(project_id)s/%(resource)s.')


class NotAuthorized(CaasException):
    message = 'Not authorized.'
    code = 403


class PolicyNotAuthorized(NotAuthorized):
    message = 'Policy does not allow %(action)s to be performed.'


class QuotaExceeded(NotAuthorized):
    """Magnum's ResourceLimitExceeded (403), saying which quota."""
    message = ('Quota exceeded for project %(project_id)s: its %(resource)s '
               'quota (%(source)s) is %(limit)d and the project already has '
               '%(count)d. Delete a cluster to make room for a new one, or '
               'ask an administrator to raise the quota.')


class NotAcceptable(CaasException):
    message = 'Request not acceptable.'
    code = 406


class DriverNotFound(Invalid):
    message = ('No driver serves server_type %(server_type)s, os_distro '
               '%(os)s and coe %(coe)s.')


class CloudError(CaasException):
    """The cloud (Keystone, Nova, Glance, Heat) failed or could not be reached."""
    message = 'The cloud returned an error: %(err)s'
    code = 503


class CloudUnavailable(CloudError):
    """A cloud service answered 5xx or could not be reached (transient)."""
    message = 'The %(service)s of the cloud is unavailable: %(err)s'

    @property
    def service(self):
        return self.kwargs.get('service')


class CloudUnauthorized(CloudError):
    """A cloud service refused the token it was sent (401)."""
    message = 'The %(service)s of the cloud refused the token: %(err)s'

    @property
    def service(self):
        return self.kwargs.get('service')


class UserTokenRejected(CaasException):
    """The cloud refused the requesting user's own token although caas's
    API had accepted it (the user was deleted or the token revoked since
    keystonemiddleware cached its validation): the user's to fix, a 401."""
    message = 'The cloud no longer accepts your token.'
    code = 401


class FencedOut(CaasException):
    """This conductor no longer owns the operation: it must not act."""
    message = ('Operation %(operation)s is no longer owned by %(owner)s at '
               'epoch %(epoch)s.')
    code = 409


class RPCSchemaError(CaasException):
    message = 'RPC %(method)s does not match its schema: %(err)s'
    code = 500
