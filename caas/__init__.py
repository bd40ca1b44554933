"""caas: a Container-as-a-Service control plane speaking Magnum's v1 API."""
