"""Gunicorn launcher for the OpenStack WSGI applications of the local tier.

Keystone, Heat, Nova and Placement parse sys.argv with oslo.config when their
WSGI module is imported; under gunicorn sys.argv holds gunicorn's own flags,
which they refuse. This module replaces sys.argv with the service's own
arguments (CAAS_OSTACK_ARGS, split on whitespace: e.g. Heat's --config-file)
before it imports the application named by CAAS_OSTACK_WSGI.
"""

import importlib
import os
import sys

sys.argv = [os.environ.get('CAAS_OSTACK_PROG', 'wsgi')] + os.environ.get(
    'CAAS_OSTACK_ARGS', '').split()

application = importlib.import_module(
    os.environ['CAAS_OSTACK_WSGI']).application
