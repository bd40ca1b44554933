"""caas-api: the first hop of the data path.

client ──HTTP──▶ **caas-api** (request id, auth, policy, microversion,
JSON-Schema validation) ──▶ one DB transaction (row + ``*_IN_PROGRESS`` +
an ``operations`` row) ──▶ COMMIT ──▶ cast to the conductors.

The API speaks Magnum's v1 REST API (service type ``container-infra``) so
python-magnumclient, ``openstack coe`` and Terraform work unmodified. It
never talks to Heat or Nova on a request's behalf except to check the
references a template or cluster names.
"""
