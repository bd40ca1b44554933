# Pinned versions of the OpenStack services of the real-OpenStack tier
# (sourced by tools/openstack/local.sh). Changing one changes the cache
# directory, so a new set of venvs is built beside the old one.
KEYSTONE_VERSION=30.0.0
HEAT_VERSION=27.0.0
HEATCLIENT_VERSION=5.3.0
NOVA_VERSION=34.0.0
PLACEMENT_VERSION=16.0.0
GUNICORN_VERSION=23.0.0
PYMYSQL_VERSION=1.2.4
