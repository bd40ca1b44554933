"""The live page over caas-api, two caas-conductors, RabbitMQ and PostgreSQL:
a killed conductor's takeover appears as it happens."""

import pytest

from tests.browser import page  # noqa: F401 (fixture)
from tests.browser import screenshot
from tests.integration import helpers

pytestmark = pytest.mark.integration


def test_takeover_appears_on_the_page(deploy, page):  # noqa: F811
    dep = deploy(conductors=2, boot_delay=5)
    mc = helpers.magnum(dep.api_url)
    tmpl = helpers.make_template(mc)
    page.goto(dep.api_url + '/dashboard/')
    page.wait_for_selector('#connection:text("Live")')
    cluster = mc.clusters.create(name='survivor',
                                 cluster_template_id=tmpl.uuid, node_count=2)
    owner = helpers.wait_owner(dep.db_url)
    # The page says who owns the operation before anything goes wrong.
    page.wait_for_selector(
        'tr[data-host="%s"] .ops:has-text("cluster_create")' % owner)
    dep.kill(owner)
    item = page.wait_for_selector(
        '#takeover-list li[data-cluster="%s"]' % cluster.uuid, timeout=120000)
    text = item.text_content()
    new_owner = helpers.operations(dep.db_url)[0]['owner']
    assert new_owner != owner
    assert 'survivor: %s → %s after ' % (owner, new_owner) in text
    # The dead conductor is shown down; the survivor finishes the job.
    page.wait_for_selector('tr[data-host="%s"] .state-down' % owner,
                           timeout=30000)
    page.wait_for_selector(
        'tr[data-cluster="%s"][data-status="CREATE_COMPLETE"]' % cluster.uuid,
        timeout=90000)
    assert page.evaluate(
        'u => document.querySelector(`tr[data-cluster="${u}"] progress`).value',
        cluster.uuid) == 100
    screenshot(page, 'dashboard-takeover.png')
    # The timeline shows the resume, recorded by the new owner.
    page.click('button[data-cluster="%s"]' % cluster.uuid)
    resumed = page.wait_for_selector('#timeline-list li[data-state="RESUMED"]')
    assert 'taken over from %s by %s' % (owner, new_owner) in \
        resumed.text_content()
    assert page.errors == []


def test_keystone_page_asks_for_a_token_and_shows_only_its_project(
        deploy, page):  # noqa: F811
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3
    dep = deploy(conductors=1, boot_delay=0.2, auth_strategy='keystone')

    def login(user, project):
        auth = v3.Password(auth_url=dep.sim_url + '/identity/v3',
                           username=user, password='caas',
                           project_name=project, user_domain_name='Default',
                           project_domain_name='Default')
        sess = ks_session.Session(auth=auth)
        return sess, sess.get_token()

    demo_session, demo_token = login('demo', 'demo')
    from magnumclient import client as magnum_client
    demo = magnum_client.Client('1', session=demo_session,
                                api_version='latest')
    tmpl = helpers.make_template(demo)
    mine = demo.clusters.create(name='mine', cluster_template_id=tmpl.uuid,
                                node_count=1)
    helpers.wait_status(demo, mine.uuid, 'CREATE_COMPLETE')

    page.goto(dep.api_url + '/dashboard/')
    # No token yet: the page asks for one, and shows nothing.
    page.wait_for_selector('#login:not([hidden])')
    assert page.text_content('#connection') == 'Not signed in'
    assert page.query_selector('tr[data-cluster]') is None
    page.fill('#token', demo_token)
    page.press('#token', 'Enter')
    page.wait_for_selector('tr[data-cluster="%s"]' % mine.uuid)
    page.wait_for_selector('#connection:text("Live")')
    # Kept for this tab only, never as a cookie; a member is not shown the
    # conductors (administrators only).
    assert page.evaluate('sessionStorage.getItem("caas-token")') == demo_token
    assert page.context.cookies() == []
    page.wait_for_selector('#conductors-note:not([hidden])')
    # Another project's token sees none of demo's clusters.
    _, other_token = login('caas', 'service')
    page.click('#forget')
    page.wait_for_selector('#login:not([hidden])')
    page.fill('#token', other_token)
    page.press('#token', 'Enter')
    page.wait_for_selector('#connection:text("Live")')
    assert page.query_selector('tr[data-cluster="%s"]' % mine.uuid) is None
    assert page.errors == []
