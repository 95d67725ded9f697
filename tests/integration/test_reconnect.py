"""PostgreSQL drops the platform's connections (a restart, an idle timeout, an administrator):
the next message is answered, run again on a fresh connection — the pool does not ping each
connection before use, so the first statement on a dropped one fails and nothing is committed."""

from __future__ import annotations

import uuid

import pytest
from scenarios import RESIDENT, SHANGHAI_HOSPITAL, registration_input
from sqlalchemy import create_engine, text


@pytest.fixture(params=["postgres"])
def db_url(request, pg_server):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield pg_server.create_database(name)
    pg_server.drop_database(name)


def test_a_message_after_the_server_dropped_every_connection_is_answered(platform, db_url):
    his = platform.his(SHANGHAI_HOSPITAL)
    first = his.call("2201", registration_input(RESIDENT, "390"))
    assert first["infcode"] == 0, first
    admin = create_engine(db_url)
    with admin.connect() as c:
        dropped = c.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    admin.dispose()
    assert dropped >= 1  # the platform's pooled connections
    again = his.call("2201", registration_input(RESIDENT, "390"))
    assert again["infcode"] == 0, again
    assert again["output"]["data"]["mdtrt_id"] != first["output"]["data"]["mdtrt_id"]
