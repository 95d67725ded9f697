"""The Alembic migrations build exactly the schema of medsettle.storage.schema.metadata, on an
empty SQLite and an empty PostgreSQL database, and running them again is harmless."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, inspect, select, text

from medsettle.storage import schema
from medsettle.storage.database import make_engine
from medsettle.storage.migrate import alembic_config, upgrade
from medsettle.storage.types import Scaled


def differences(engine, *, compare_type: bool) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": compare_type, "compare_server_default": False},
        )
        return compare_metadata(context, schema.metadata)


def head_revision(engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@pytest.fixture
def empty(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_an_empty_database_starts_without_tables(empty):
    assert inspect(empty).get_table_names() == []
    assert current_revision(empty) is None


def test_migrating_an_empty_database_gives_exactly_the_metadata(empty):
    upgrade(empty)
    assert differences(empty, compare_type=False) == []
    names = set(inspect(empty).get_table_names())
    assert names == {t.name for t in schema.metadata.sorted_tables} | {"alembic_version"}
    assert current_revision(empty) == head_revision(empty)


def test_column_types_match_including_the_scaled_money_columns(empty):
    upgrade(empty)
    assert differences(empty, compare_type=True) == []
    inspector = inspect(empty)
    scaled = set()
    for table in schema.metadata.sorted_tables:
        reflected = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(reflected) == set(table.c.keys()), table.name
        for column in table.c:
            got = reflected[column.name]
            assert got["nullable"] == column.nullable, f"{table.name}.{column.name}"
            if isinstance(column.type, Scaled):
                scaled.add(f"{table.name}.{column.name}")
                assert isinstance(got["type"], BigInteger), f"{table.name}.{column.name}"
                assert got["type"].compile(dialect=empty.dialect).upper() == "BIGINT"
    assert {
        "accounts.balance",
        "settlements.hifp_pay",
        "cum_totals.fund_paid",
        "fee_lines.pric",
        "catalogue.selfpay_prop",
    } <= scaled


def test_indexes_and_unique_constraints_match(empty):
    upgrade(empty)
    inspector = inspect(empty)
    for table in schema.metadata.sorted_tables:
        want_ix = {tuple(c.name for c in ix.columns) for ix in table.indexes}
        got_ix = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table.name)}
        got_uq = {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table.name)}
        # PostgreSQL reflects a unique constraint's backing index among the indexes too
        assert want_ix <= got_ix, table.name
        assert got_ix - want_ix <= got_uq, table.name
        want_uq = {
            tuple(c.name for c in con.columns)
            for con in table.constraints
            if con.__class__.__name__ == "UniqueConstraint"
        } | {(c.name,) for c in table.c if c.unique}
        assert want_uq == got_uq, table.name
        pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns], table.name


def test_upgrading_twice_is_harmless_and_keeps_the_data(empty):
    upgrade(empty)
    with empty.begin() as c:
        c.execute(schema.accounts.insert().values(psn_no="65320000000000000002", balance="200.00"))
    upgrade(empty)
    upgrade(empty, "head")
    assert differences(empty, compare_type=True) == []
    assert current_revision(empty) == head_revision(empty)
    with empty.connect() as c:
        assert c.execute(select(schema.accounts.c.balance)).scalar() == 200
        assert c.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_the_money_columns_store_exact_fen(empty):
    """The scaled integer really is the amount in fen, readable by plain SQL on both databases."""
    upgrade(empty)
    with empty.begin() as c:
        c.execute(
            schema.accounts.insert().values(psn_no="P1", balance="99999999.99"),
        )
        raw = c.execute(text("SELECT balance FROM accounts WHERE psn_no = 'P1'")).scalar()
    assert raw == 9999999999 and isinstance(raw, int)
    assert isinstance(schema.accounts.c.balance.type.impl, BigInteger)
