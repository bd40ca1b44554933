"""fill.py splits each slow template list into the app's time (caas-all's
access log, by request id) and the wait outside it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import fill  # noqa: E402

LOG = """\
2026-12-03 06:35:19.365 1 INFO caas.api.access [-] GET /v1/clustertemplates \
status=200 duration_ms=3.5 request_id=req-a project=p
2026-12-03 06:35:19.366 1 INFO caas.api.access [-] POST /v1/clusters \
status=202 duration_ms=40.0 request_id=req-x project=p
2026-12-03 06:35:19.367 1 INFO caas.api.access [-] GET /v1/clustertemplates \
status=200 duration_ms=250.0 request_id=req-b project=p
2026-12-03 06:35:19.368 1 INFO caas.api.access [-] GET /v1/clustertemplates \
status=503 duration_ms=900.0 request_id=req-c project=p
"""


def test_app_times_are_read_by_request_id(tmp_path):
    path = tmp_path / 'caas-all.log'
    path.write_text(LOG)
    # Only the template lists that succeeded, each under its id.
    assert fill.server_times(str(path)) == {'req-a': 0.0035,
                                            'req-b': 0.25}


def test_the_slowest_lists_are_split_by_their_ids():
    samples = [(0.010, 'req-a'), (0.400, 'req-b'), (0.020, 'req-c'),
               (0.300, 'req-d')]
    app = {'req-a': 0.0035, 'req-b': 0.25, 'req-d': 0.004}
    # 2 % of 4 lists is less than one: the slowest alone.
    assert fill.split_slowest(samples, app) == ['#1:400.0/250.0']
    # Slowest first, with their position; a list the log lacks shows '?'.
    assert fill.split_slowest(samples, {'req-b': 0.25}, share=0.5) == [
        '#1:400.0/250.0', '#3:300.0/?']
    assert fill.split_slowest([], app) == []
