"""The live page in headless Chromium against a running caas-all."""

import time

from tests.browser import page  # noqa: F401 (fixture)
from tests.browser import screenshot
from tests.integration.helpers import make_template
from tests.integration.helpers import wait_status

ROW = """uuid => {
  const r = document.querySelector(`tr[data-cluster="${uuid}"]`);
  if (!r) return null;
  return {status: r.dataset.status, value: r.querySelector('progress').value,
          step: r.querySelector('.step').textContent};
}"""

# WCAG contrast of every text cell against the background it is drawn on.
CONTRAST = """() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const bg = getComputedStyle(el).backgroundColor;
      if (bg && !bg.endsWith(', 0)') && bg !== 'transparent') return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const worst = [];
  for (const el of document.querySelectorAll('h1, h2, th, td, li, p, button, label')) {
    if (!el.textContent.trim() || el.offsetParent === null) continue;
    const a = lum(getComputedStyle(el).color), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) worst.push([el.tagName, el.textContent.slice(0, 30), ratio]);
  }
  return worst;
}"""


def _follow(pg, uuid, until, timeout=90):
    """Samples of the cluster's row until ``until(sample)``."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sample = pg.evaluate(ROW, uuid)
        if sample is not None:
            samples.append(sample)
            if until(sample):
                return samples
        pg.wait_for_timeout(50)
    raise AssertionError('row of %s never got there: %s' % (uuid,
                                                            samples[-5:]))


def test_progress_bars_advance_and_complete(aio, mc, page):  # noqa: F811
    aio.sim.cloud.knobs['server_boot_delay'] = 2.0
    make_template(mc)
    page.goto(aio.api_url + '/dashboard/')
    page.wait_for_selector('#connection:text("Live")')
    cluster = mc.clusters.create(name='alpha', cluster_template_id='k8s',
                                 node_count=3)
    shot = []

    def done(sample):
        if not shot and 0 < sample['value'] < 100:
            shot.append(screenshot(page, 'dashboard-progress.png'))
        return sample['status'] == 'CREATE_COMPLETE' and \
            sample['value'] == 100

    samples = _follow(page, cluster.uuid, done)
    values = [s['value'] for s in samples]
    # It moved through the middle, never backwards, to the end.
    assert any(0 < v < 100 for v in values), values
    assert values == sorted(values), values
    assert values[-1] == 100
    steps = {s['step'] for s in samples}
    assert any('servers have addresses' in s for s in steps), steps
    assert any(s.startswith('step %d/%d waiting for the stack' % _wait_step())
               for s in steps)
    # The live updates came from the stream: the page was never reloaded.
    assert page.evaluate('performance.getEntriesByType("navigation").length') \
        == 1
    # The conductor of caas-all is listed with a fresh heartbeat.
    host = page.text_content('#conductor-rows th')
    assert host.endswith('-all')
    assert page.text_content('#conductor-rows .state-up') == 'up'
    screenshot(page, 'dashboard-complete.png')
    assert page.errors == []


def test_a_failure_shows_its_reason(aio, mc, page):  # noqa: F811
    make_template(mc)
    page.goto(aio.api_url + '/dashboard/')
    page.wait_for_selector('#connection:text("Live")')
    aio.sim.cloud.knobs['server_failure_rate'] = 1.0
    cluster = mc.clusters.create(name='doomed', cluster_template_id='k8s',
                                 node_count=1)
    item = page.wait_for_selector(
        '#failure-list li[data-cluster="%s"]' % cluster.uuid, timeout=60000)
    reason = mc.clusters.get(cluster.uuid).status_reason
    assert 'CREATE_FAILED' in reason
    assert reason in item.text_content()
    assert 'doomed' in item.text_content()
    # The cluster's new status can reach the page (a list refresh) just
    # before the step's FAILED event does (the stream): the row says
    # "failed" until then, and where it failed once the event is in.
    row = _follow(page, cluster.uuid,
                  lambda s: s['step'].startswith('failed at'), timeout=30)[-1]
    assert row['status'] == 'CREATE_FAILED'
    # The bar stays where the operation failed (waiting for the stack).
    index, count = _wait_step()
    assert row['step'] == 'failed at step %d/%d wait-stack-create' % (
        index, count)
    assert row['value'] == round(100 * (index - 1) / count)
    screenshot(page, 'dashboard-failure.png')
    assert page.errors == []


def test_timeline_by_keyboard_and_readable(aio, mc, page):  # noqa: F811
    make_template(mc)
    cluster = mc.clusters.create(name='beta', cluster_template_id='k8s',
                                 node_count=1)
    wait_status(mc, cluster.uuid, 'CREATE_COMPLETE', timeout=60, poll=0.1)
    page.goto(aio.api_url + '/dashboard/')
    button = 'button[data-cluster="%s"]' % cluster.uuid
    page.wait_for_selector(button)
    # Reach the cluster's Timeline button with Tab alone, open it with Enter.
    for _ in range(40):
        page.keyboard.press('Tab')
        if page.evaluate('(sel) => document.activeElement.matches(sel)',
                         button):
            break
    else:
        raise AssertionError('the Timeline button is not reachable by Tab')
    page.keyboard.press('Enter')
    page.wait_for_selector('#timeline-list li[data-state="SUCCEEDED"]')
    text = page.text_content('#timeline-list')
    assert 'Timeline of beta' == page.text_content('#timeline-title')
    for step in ('begin', 'create-stack', 'wait-stack-create', 'complete'):
        assert step in text
    # Labels for every control, live regions for what changes, and text
    # contrast of at least 4.5:1 everywhere.
    assert page.evaluate(
        '[...document.querySelectorAll("progress")].every('
        '(p) => p.getAttribute("aria-label"))')
    assert page.get_attribute('#takeover-list', 'aria-live') == 'polite'
    assert page.get_attribute('#failure-list', 'aria-live') == 'polite'
    assert page.evaluate(CONTRAST) == []
    assert page.errors == []


def _wait_step():
    """(index, count) of the create flow's wait-stack-create step."""
    from caas.conductor import steps
    names = [step for _atom, step, _label in steps.steps_of('cluster_create')]
    return names.index('wait-stack-create') + 1, len(names)
