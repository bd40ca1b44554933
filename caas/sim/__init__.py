"""The simulated cloud: the OpenStack end of caas's data path.

Flow tasks reach the cloud through keystoneauth1 sessions and the real
python-heatclient / python-novaclient.  In the embedded and single-host modes
that cloud is this package: a subset of Keystone v3, Nova v2.1, Glance v2 and
Heat v1 over HTTP (``caas.sim.server.SimServer``, ``caas-cloudsim``), with
simulated latency, resource state machines, injected faults and a state that
survives restarts (``caas.sim.state``).  HOT templates are interpreted by
``caas.sim.hot`` (language), ``caas.sim.resources`` (types) and
``caas.sim.stacks`` (engine).
"""
