"""`make bench` builds one row per figure from its sections' results
(tiny numbers here; the benchmarks themselves are not run)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import bench  # noqa: E402

RESULTS = {
    'list': {'list_100_c1': {'p50_ms': 1.5, 'p99_ms': 3.0, 'req_s': 600.0},
             'detail_100_c16': {'p50_ms': 1.0, 'p99_ms': 2.0,
                                'req_s': 900.0},
             'list_100_c16_threads': {'p50_ms': 8.0, 'p99_ms': 30.0,
                                      'req_s': 400.0},
             'list_100_c16_warmup': {'n': 80, 'per_client': 5,
                                     'p50_ms': 20.0, 'max_ms': 90.0,
                                     'api_cpu_ms': 2.5}},
    'create': {'c%d' % c: {'clusters': 3, 'conductors': c, 'posted': 3,
                           'completed': 3, 'failed': 0, 'post_p50_ms': 9.0,
                           'post_p99_ms': 12.0, 'creates_s': 30.0,
                           'clusters_min': 60.0 * c, 'complete_p50_s': 2.0,
                           'complete_p99_s': 3.0, 'cpu_s_per_cluster': 0.04,
                           'idle_cpu_pct': 0.7, 'warmup_creates': 2,
                           'warmup_cpu_s': 0.4, 'machine_busy_pct': 55.5,
                           'cloud_requests_per_cluster': {
                               'POST /heat': 1.0, 'GET /heat': 1.5}}
               for c in (1, 2)},
    'cpu': {'time': {'creates': 20, 'database': 'postgresql',
                     'cpu_ms_per_create': 61.5},
            'calls': {'creates': 20, 'python_calls_per_create': 59700}},
    'steady': {'n10': {'clusters': 10, 'cloud_req_s': 0.2,
                       'db_writes_s': 0.5, 'cluster_writes_s': 0.0,
                       'conductor_cpu_pct': 0.4, 'conductor_rss_mib': 99.0}},
    'fill': {'accepted': 5, 'accept_rate_100': 2.0, 'accept_rate_last': 1.9,
             'post_p99_ms': 40.0, 'templates_p50_ms': 8.0,
             'templates_p99_ms': 20.0, 'templates_over_50ms': 1,
             'templates_samples': 40, 'accept_rate_trend_pct_per_1000': -4.5},
    'rpc': {'RabbitMQ': {'burst_casts_s': 1500.0, 'burst_threads': 4,
                         'burst_threads_casts_s': 2000.0},
            'RabbitMQ, 4 processes': {
                'processes': 4, 'threads': 2, 'consumers': 1, 'sent': 40,
                'received': 40, 'sent_casts_s': 1800.0,
                'received_casts_s': 1600.0, 'sender_cpu_ms_per_cast': 0.9}},
    'micro': {'taskflow_sqlite': {'tasks': 4, 'persisted_ms_per_task': 3.0,
                                  'memory_ms_per_task': 1.0},
              'sql_statements': {'postgresql_list': 3, 'sqlite_create': 15}},
    'takeover': {'times': [9.5, 9.7, 10.1], 'false_takeovers': 0},
    'realnodes': {'rounds': [{}, {}], 'complete_p50_s': 12.5,
                  'rss_mib_max': 180, 'pss_mib_max': 150,
                  'pss_mib_total': 420, 'delete_p50_s': 1.5},
}


def test_every_section_gives_its_rows():
    rows = {name: (value, unit) for name, value, unit in
            bench.flatten(RESULTS)}
    assert rows['GET /v1/clusters (100 clusters, 1 clients) p50'] == \
        (1.5, 'ms')
    assert rows['GET /v1/clusters/<id> (100 clusters, 16 clients) rate'] == \
        (900.0, 'req/s')
    assert rows['GET /v1/clusters (100 clusters, 16 clients as threads of '
                'one process) p99'] == (30.0, 'ms')
    # The warm-up is a row of its own, never the figure's.
    assert rows['warm-up (5 GETs per client) of GET /v1/clusters (100 '
                'clusters, 16 clients) API CPU'] == (2.5, 'ms/req')
    assert 'GET /v1/clusters (100 clusters, 16 clients) p99' not in rows
    assert rows['POST /v1/clusters -> 202 p99 (16 clients)'] == (12.0, 'ms')
    assert rows['3 creates, 2 conductors: clusters/min'] == (120.0, '/min')
    # Start-up, idle and the machine's load printed apart (issue 11).
    assert rows['3 creates, 1 conductor: CPU of 2 warm-up creates before'] \
        == (0.4, 'CPU-s')
    assert rows['3 creates, 2 conductors: conductor idle CPU before'] == \
        (0.7, '% core')
    assert rows['3 creates, 2 conductors: machine CPU busy during the '
                'run'] == (55.5, '% all cores')
    assert rows['3 creates, 1 conductor: cloud requests per cluster'] == \
        (2.5, 'requests')
    assert rows['steady, 10 settled clusters: DB writes (clusters)'] == \
        (0.0, 'rows/s')
    assert rows['caas-all fill: accept rate at 5th'] == (1.9, 'clusters/s')
    assert rows['casts/s, burst (RabbitMQ)'] == (1500.0, '/s')
    assert rows['casts/s, burst from 4 threads (RabbitMQ)'] == (2000.0, '/s')
    assert rows['creates: 2 conductors / 1 conductor (clusters/min)'] == \
        (2.0, 'x')
    assert rows['conductor CPU per create, in process (20 creates, '
                'postgresql)'] == (61.5, 'ms')
    assert rows['Python calls per create, in process'] == (59700, 'calls')
    assert rows['SQL statements per list (postgresql, on the wire)'] == \
        (3, 'statements')
    assert rows['takeover after kill -9 p50 (3 kills)'] == (9.7, 's')
    assert rows['takeover after kill -9 p99'] == (10.1, 's')
    assert rows['takeover: false takeovers (claims taken from live '
                'owners)'] == (0, 'claims')
    assert rows['casts/s, 4 sending processes x 2 threads (RabbitMQ): '
                'sent'] == (1800.0, '/s')
    assert rows['casts/s, 4 sending processes x 2 threads (RabbitMQ): '
                'received'] == (1600.0, '/s')
    assert rows['caas-all fill: GET /v1/clustertemplates p99'] == \
        (20.0, 'ms')
    assert rows['caas-all fill: POST /v1/clusters p99'] == (40.0, 'ms')
    assert rows['caas-all fill: accept rate drift per 1,000 clusters '
                '(line through 100-POST windows)'] == (-4.5, '%')
    assert rows['caas-all fill: GET /v1/clustertemplates over 50 ms'] == \
        (1, 'of 40 lists')
    assert rows['real 3-node Swarm: POST -> CREATE_COMPLETE p50 (2 rounds)'] \
        == (12.5, 's')
    assert rows['real 3-node Swarm: PSS of all nodes'] == (420, 'MiB')


def test_a_skipped_real_node_section_gives_no_row():
    rows = bench.flatten({'realnodes': {'skipped': 'real nodes need root'}})
    assert rows == []


def test_the_table_has_a_line_per_row_and_shows_missing_values():
    rows = bench.flatten(RESULTS) + [('not measured', None, 's')]
    lines = bench.table(rows)
    assert len(lines) == len(rows) + 2
    assert lines[-1].split()[-2:] == ['-', 's']


def test_both_scales_name_every_size_a_section_needs():
    for cfg in bench.SCALES.values():
        assert set(cfg) == set(bench.SCALES['full'])
    assert bench.SCALES['full']['takeover_rounds'] >= 20
    assert bench.SCALES['full']['list_sizes'] == [1000, 10000]


def test_the_list_rows_have_enough_samples_for_a_p99():
    # 16 clients: at least 100 timed lists each, so the p99 is not the
    # maximum of a few dozen; the warm-up is kept out of them.
    for cfg in bench.SCALES.values():
        assert cfg['list_requests'] >= 2000
        assert cfg['list_warmup'] >= 1


def test_a_fill_without_the_count_of_slow_lists_has_no_such_row():
    # Results written before fill.py counted them.
    fill = dict(RESULTS['fill'])
    del fill['templates_over_50ms']
    del fill['accept_rate_trend_pct_per_1000']
    rows = {name: (value, unit)
            for name, value, unit in bench.flatten({'fill': fill})}
    assert 'caas-all fill: GET /v1/clustertemplates over 50 ms' not in rows
    assert not any('drift' in name for name in rows)
    assert rows['caas-all fill: GET /v1/clustertemplates p99'] == \
        (20.0, 'ms')


def test_capped_creates_get_rows_and_a_ratio_of_their_own():
    def create(c, cap, per_min):
        return {'clusters': 3, 'conductors': c, 'posted': 3, 'completed': 3,
                'failed': 0, 'post_p50_ms': 9.0, 'post_p99_ms': 12.0,
                'creates_s': 30.0, 'clusters_min': per_min,
                'complete_p50_s': 2.0, 'complete_p99_s': 3.0,
                'cpu_s_per_cluster': 0.04, 'conductor_cpu_cap': cap,
                'conductor_throttled_s': 7.5 if cap else None,
                'machine_ms_per_cluster': {'cloudsim': 19.0,
                                           'machine': 85.0}}
    rows = {name: (value, unit) for name, value, unit in bench.flatten(
        {'create': {'c1': create(1, None, 100.0),
                    'c2': create(2, None, 102.0),
                    'c1_capped': create(1, 0.25, 40.0),
                    'c2_capped': create(2, 0.25, 76.0)}})}
    # The unconstrained ratio and the capped one, never mixed.
    assert rows['creates: 2 conductors / 1 conductor (clusters/min)'] == \
        (1.02, 'x')
    assert rows['creates: 2 conductors / 1 conductor (clusters/min), each '
                'held to 0.25 core'] == (1.9, 'x')
    assert rows['3 creates, 2 conductors held to 0.25 core each: '
                'clusters/min'] == (76.0, '/min')
    assert rows['3 creates, 1 conductor held to 0.25 core: conductors held '
                'back by their cap'] == (7.5, 's')
    assert rows['3 creates, 1 conductor: CPU per cluster, cloudsim'] == \
        (19.0, 'ms')
    assert rows['3 creates, 2 conductors: CPU per cluster, machine'] == \
        (85.0, 'ms')
    # The POST rows come from the unconstrained conductor only.
    assert rows['POST /v1/clusters -> 202 p99 (16 clients)'] == (12.0, 'ms')
    assert '3 creates, 1 conductor: conductors held back by their cap' \
        not in rows
