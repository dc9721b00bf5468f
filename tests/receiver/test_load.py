"""Load: a couple of hundred simulated APs post while the dashboard queries, and no valid POST is refused or lost.

A bounded run of the load of `python -m benchmarks.load` (whose figures are in docs/benchmarks.md), with its code:
a real `presence serve` under gunicorn, the simulator's signed bodies of all three vendors sent open loop from a
pool of client threads, and the dashboard's own data functions querying in another process. Nothing is timed here;
everything is counted.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import load

pytestmark = pytest.mark.slow

# 200 APs (50 shops) at 12x real time for 20 s: 4 simulated minutes, 800 POSTs at 40/s, all three vendors.
PLAN = load.Plan(aps=200, speed=12, seconds=20, seed=7)
VENDORS = {"engenius", "aerohive", "meraki"}


@pytest.fixture(scope="module")
def schedule(tmp_path_factory: pytest.TempPathFactory) -> list[load.Post]:
    """The run's POSTs, rendered once for both databases (the secrets are the same in every installation)."""
    return load.posts(PLAN, load.installation(tmp_path_factory.mktemp("load") / "data", PLAN))


def test_no_valid_post_is_refused_or_lost_while_the_dashboard_queries(tmp_path, database_url, schedule):
    env = load.installation(tmp_path / "data", PLAN, database_url)
    with load.dashboard_process(env, PLAN.speed, min_rounds=2) as dashboard:
        result = load.run("test", PLAN, schedule, env, dashboard=dashboard, log=tmp_path / "server.log")

    # Every POST was answered 2xx: zero refused valid posts, zero failed connections.
    assert len(result.answers) == len(schedule) == PLAN.aps * PLAN.minutes
    assert result.refused == Counter(), result.examples()
    assert result.connection_errors == Counter(), result.examples()
    assert {answer.status for answer in result.answers} == {200}

    # The database holds exactly what was acknowledged, and every observation sent was new, so acknowledged.
    sent = result.sent_by_vendor
    assert set(sent) == VENDORS
    assert sum(sent.values()) > 10 * len(schedule)  # real reports of a busy afternoon, not empty lists
    assert result.acknowledged_by_vendor == sent
    assert result.stored_by_vendor == sent
    assert sum(answer.duplicates for answer in result.answers) == 0

    # The receiver's own counters agree with what the clients saw.
    posts_per_vendor = Counter(post.vendor for post in schedule)
    assert result.metrics["presence_requests_total"] == {
        (vendor, "200"): float(count) for vendor, count in posts_per_vendor.items()
    }
    assert result.metrics["presence_records_stored_total"] == {
        (vendor,): float(count) for vendor, count in sent.items()
    }
    assert sum(result.metrics["presence_records_duplicate_total"].values()) == 0

    # The dashboard's queries ran alongside, without an error, and saw the traffic.
    queries = result.queries
    assert queries is not None
    assert queries.errors == []
    assert len(queries.rounds) >= 2
    assert queries.last_report["passersby"] + queries.last_report["visitors"] > 0
    assert queries.last_live_aps == PLAN.aps  # every configured AP is on the Live page's list
