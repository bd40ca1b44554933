"""Cloud clients: one keystoneauth1 session feeding python-heatclient and
python-novaclient. The same code talks to a real cloud or to caas's simulated
cloud; only ``[cloud] auth_url`` differs."""
