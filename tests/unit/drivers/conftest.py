"""Driver tests load the drivers setup.cfg declares, installed or not."""

import configparser
import importlib
import os

import pytest
from stevedore import extension

import caas.drivers

SETUP_CFG = os.path.join(os.path.dirname(__file__), '..', '..', '..',
                         'setup.cfg')


def declared_entry_points():
    """``{name: 'module:Class'}`` of the caas.drivers group in setup.cfg."""
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    lines = parser['entry_points']['caas.drivers'].strip().splitlines()
    return dict((part.strip() for part in line.split('=', 1))
                for line in lines)


def load(target):
    module, _, attr = target.partition(':')
    return getattr(importlib.import_module(module), attr)


@pytest.fixture(autouse=True)
def declared_drivers(monkeypatch):
    """Serve exactly setup.cfg's drivers, even before ``pip install -e``."""
    exts = [extension.Extension(name, None, load(target), None)
            for name, target in declared_entry_points().items()]
    manager = extension.ExtensionManager.make_test_instance(
        exts, namespace=caas.drivers.NAMESPACE)
    monkeypatch.setattr(caas.drivers, '_manager', lambda: manager)
    return manager
