"""The throwaway PostgreSQL test server really starts, serves and stops."""

from __future__ import annotations

import os

import psycopg
import pytest

try:
    from pgserver import PostgresServer, port_accepts_connections, postgres_available
except ImportError:  # tests/ imported as a package
    from tests.pgserver import PostgresServer, port_accepts_connections, postgres_available


pytestmark = pytest.mark.postgres


def test_real_postgres_server_lifecycle() -> None:
    ok, why = postgres_available()
    if not ok:
        hint = (
            ""
            if "apt-get install" in why
            else (
                " (install Debian's `postgresql` package: "
                "apt-get install -y --no-install-recommends postgresql)"
            )
        )
        pytest.fail(f"PostgreSQL is required for these tests: {why}{hint}", pytrace=False)

    server = PostgresServer()
    server.start()
    try:
        assert server.url.startswith("postgresql+psycopg://")
        name = f"medsettle_pgserver_selftest_{os.getpid()}"
        server.drop_database(name)  # harmless on a fresh server; tidy on a shared one
        url = server.create_database(name)
        assert url.startswith("postgresql+psycopg://")
        assert url.endswith(f"/{name}")

        conninfo = url.replace("+psycopg", "", 1)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            version = conn.execute("select version()").fetchone()[0]
            assert version.startswith("PostgreSQL ")
            assert conn.execute("select current_database()").fetchone()[0] == name
            assert conn.execute("show server_encoding").fetchone()[0] == "UTF8"
            conn.execute("create table t(x int)")
            conn.execute("insert into t(x) values (1), (2), (3)")
            rows = conn.execute("select x from t order by x").fetchall()
            assert rows == [(1,), (2,), (3,)]
            assert conn.execute("select sum(x) from t").fetchone()[0] == 6
            if not server.external:
                assert conn.execute("show listen_addresses").fetchone()[0] == "127.0.0.1"
                assert conn.execute("show max_connections").fetchone()[0] == "200"
                assert conn.execute("show fsync").fetchone()[0] == "off"

        server.drop_database(name)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(conninfo, connect_timeout=5).close()
    finally:
        server.stop()

    if not server.external:
        assert server.port is not None
        assert not port_accepts_connections(server.host, server.port)
        assert server.tmpdir is not None and not server.tmpdir.exists()
    server.stop()  # idempotent
