"""`make bench`'s ``post`` section: the API alone and with a conductor
working, both printed, the warm-up apart, enough creates for a p99."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import bench  # noqa: E402


def _row(conductors, p99, nice=0):
    return {'conductor_nice': nice,
            'p50_ms': 50.0, 'p90_ms': 80.0, 'p99_ms': p99, 'max_ms': 200.0,
            'req_s': 150.0, 'api_cpu_ms': 4.5, 'client_cpu_ms': 0.8,
            'n': 400,
            'conductors': conductors, 'warmup_n': 16,
            'warmup_p50_ms': 300.0, 'warmup_max_ms': 900.0}


def test_both_post_figures_are_rows():
    rows = {name: (value, unit) for name, value, unit in bench.flatten(
        {'post': {'post_c16': _row(0, 120.0),
                  'post_c16_threads': _row(0, 180.0),
                  'post_c16_cond1': _row(1, 600.0),
                  'post_c16_cond1_nice10': _row(1, 300.0, nice=10)}})}
    alone = 'POST -> 202, 16 clients, API alone (400 creates)'
    busy = 'POST -> 202, 16 clients, 1 conductor working (400 creates)'
    assert rows[alone + ' p99'] == (120.0, 'ms')
    assert rows[busy + ' p99'] == (600.0, 'ms')
    # The conductor given a lower priority is a row of its own; the
    # equal-priority figures stay.
    assert rows['POST -> 202, 16 clients, 1 conductor working at nice +10 '
                '(400 creates) p99'] == (300.0, 'ms')
    assert rows[alone + ' API CPU'] == (4.5, 'ms/create')
    assert rows[alone + " clients' CPU"] == (0.8, 'ms/create')
    assert rows[busy + ' rate'] == (150.0, 'creates/s')
    # The cold start is printed apart, never mixed into the p99.
    assert rows[alone + ' warm-up max (16 untimed)'] == (900.0, 'ms')
    # The figure from threads of one process (before the tenth round)
    # is a row of its own beside the client processes' one.
    assert rows['POST -> 202, 16 clients as threads of one process, API '
                'alone (400 creates) p99'] == (180.0, 'ms')
    assert len(rows) == 24


def test_the_post_section_times_the_threads_for_the_api_alone_only(
        monkeypatch):
    import list_latency
    calls = []

    def run(clusters, **kwargs):
        calls.append(kwargs)
        return {}

    monkeypatch.setattr(list_latency, 'run', run)
    bench._post(bench.SCALES['small'], None, None, lambda *a: None)
    # With a conductor working the second batch of creates would time
    # the conductor catching up with the first.
    assert [(c['conductors'], c['conductor_nice'], c['threaded_posts'])
            for c in calls] == [(0, 0, True), (1, 0, False), (1, 10, False)]
    assert {c['post_count'] for c in calls} == {400}


def test_each_scale_times_enough_creates_for_a_p99():
    # A p99 of fewer than a few hundred samples is its two or three
    # slowest requests.
    assert bench.SCALES['small']['post_creates'] >= 300
    assert bench.SCALES['full']['post_creates'] >= \
        bench.SCALES['small']['post_creates']
    assert 'post' in bench.SECTIONS
    assert bench.SECTION_RUNNERS['post'] is bench._post


def test_renice_lowers_every_thread_of_a_running_process():
    import subprocess

    import list_latency
    # A process with a second thread already running, as a conductor is.
    child = subprocess.Popen([sys.executable, '-c', (
        'import threading, time\n'
        'threading.Thread(target=time.sleep, args=(60,), daemon=True)'
        '.start()\n'
        'print("ready", flush=True)\n'
        'time.sleep(60)\n')], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == 'ready'
        tids = [int(t) for t in os.listdir('/proc/%d/task' % child.pid)]
        assert len(tids) == 2
        before = {t: os.getpriority(os.PRIO_PROCESS, t) for t in tids}
        list_latency.renice(child.pid, 3)
        after = {t: os.getpriority(os.PRIO_PROCESS, t) for t in tids}
        assert after == {t: min(19, n + 3) for t, n in before.items()}
        # Never past 19, the lowest priority.
        list_latency.renice(child.pid, 40)
        assert {os.getpriority(os.PRIO_PROCESS, t) for t in tids} == {19}
    finally:
        child.kill()
        child.wait()
