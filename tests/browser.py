"""Headless Chromium for the tests that use the dashboard as a person would.

Debian's ``chromium`` driven by Playwright (whose Python package ships its
own driver; no browser is downloaded). Under CI a missing browser fails the
run; elsewhere the test is skipped. Screenshots go to the directory named by
``CAAS_TEST_ARTIFACTS`` (default: ``caas-artifacts`` under the temporary
directory).
"""

import os
import shutil
import tempfile

import pytest

from tests.conftest import in_ci

CHROMIUM = os.environ.get('CAAS_TEST_CHROMIUM', '/usr/bin/chromium')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run']


def _missing(why):
    if in_ci():
        pytest.fail('the browser tests need %s under CI' % why)
    pytest.skip('browser tests skipped: %s' % why)


def artifacts_dir():
    path = os.environ.get('CAAS_TEST_ARTIFACTS') or os.path.join(
        tempfile.gettempdir(), 'caas-artifacts')
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture
def page():
    """A fresh page in headless Chromium (1280x900)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing('the playwright Python package')
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing('Chromium at %s (apt-get install chromium)' % CHROMIUM)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={'width': 1280, 'height': 900})
        pg = context.new_page()
        # Generous: the machine may be busy; the tests wait for states, not
        # for time.
        pg.set_default_timeout(60000)
        pg.errors = []
        pg.on('pageerror', lambda exc: pg.errors.append(str(exc)))
        try:
            yield pg
        finally:
            context.close()
            browser.close()


def screenshot(pg, name):
    path = os.path.join(artifacts_dir(), name)
    pg.screenshot(path=path, full_page=True)
    return path
