"""The same service on PostgreSQL (a throwaway cluster from Debian's binaries): idempotent votes,
K coverage and no repeats under concurrent raters. Skipped with the reason when no server starts."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from rater_app.manage import create_study, invite_rater
from rater_app.service import Finished, RatingService
from rater_app.storage import Assignment, Database, Vote
from rater_app.testing import PostgresUnavailable, ThrowawayPostgres

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory):
    try:
        server = ThrowawayPostgres(tmp_path_factory.mktemp("pg")).start()
    except PostgresUnavailable as err:
        pytest.skip(f"no PostgreSQL server could be started: {err}")
    yield server.url
    server.stop()


def test_concurrent_raters_on_postgres(pg_url, runs):
    pytest.importorskip("psycopg", reason="pip install 'drawbench[postgres]'")
    db = Database(pg_url)
    made = create_study(
        db, "pg", runs, "drawbench", images_per_set=2, ratings_per_item=3, gold_share=0.1
    )
    tokens = [invite_rater(db, "pg", f"r{i}", items=100) for i in range(8)]
    service = RatingService(db, "pg")
    errors = []

    def rate(token):
        try:
            while not isinstance(p := service.next_presentation(token), Finished):
                for _ in range(2):  # every vote sent twice: stored once
                    service.submit(token, p.assignment, {"quality": "left", "caption": "right"})
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=rate, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    with db.session() as s:
        rows = s.execute(select(Assignment.rater_id, Assignment.item_id)).all()
        n_votes = s.scalar(select(func.count()).select_from(Vote))
    assert len(rows) == len(set(rows))
    per_item = Counter(item for _, item in rows)
    assert len(per_item) == made.n_items and min(per_item.values()) >= 3
    assert n_votes == 2 * len(rows)
    db.dispose()
