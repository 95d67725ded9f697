"""The same clearing SQL on DuckDB and on Spark (local mode) gives the same figures."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from ledgers import AFTER_NOVEMBER

from medsettle.analytics.export import export_ledger
from medsettle.analytics.queries import for_engine, run_queries
from medsettle.analytics.synthetic import REVERSAL_PER_MILLE, generate
from medsettle.services.clearing import run_month

NOV = (datetime(2026, 11, 1), datetime(2026, 12, 1))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "ledger.parquet"
    rows = generate(path, 20_000, *NOV)
    return path, rows


def test_synthetic_ledger_is_realistic(synthetic):
    import duckdb

    path, rows = synthetic
    con = duckdb.connect()
    settled, reversed_, provinces, same, outside = con.execute(
        f"""SELECT count(*) FILTER (WHERE init_setl_id IS NULL),
                   count(*) FILTER (WHERE init_setl_id IS NOT NULL),
                   count(DISTINCT substr(mdtrtarea_admvs, 1, 2)),
                   count(*) FILTER (WHERE substr(insuplc_admdvs,1,2) = substr(mdtrtarea_admvs,1,2)),
                   count(*) FILTER (WHERE setl_time < TIMESTAMP '2026-11-01' OR setl_time >= TIMESTAMP '2026-12-01')
            FROM read_parquet('{path}')"""
    ).fetchone()
    assert settled == 20_000 and rows == settled + reversed_
    assert 0.5 * REVERSAL_PER_MILLE / 1000 < reversed_ / settled < 1.5 * REVERSAL_PER_MILLE / 1000
    assert provinces >= 10 and same == 0 and outside == 0
    diseases = con.execute(
        f"SELECT dise_codg, count(*) n FROM read_parquet('{path}') GROUP BY 1 ORDER BY n DESC"
    ).fetchall()
    assert len(diseases) == 6 and diseases[0][0] == "M00500"  # tumours first, then dialysis
    assert diseases[1][0] == "M07800"
    assert (
        con.execute(
            f"SELECT sum(medfee_fen) FROM read_parquet('{path}') WHERE init_setl_id IS NULL"
        ).fetchone()[0]
        > 0
    )


def test_duckdb_and_spark_agree_on_every_figure(synthetic):
    path, _ = synthetic
    duck = run_queries(path, "duckdb")
    spark = run_queries(path, "spark")
    assert duck["pairs"] and duck["institutions"]
    assert duck == spark


def test_the_spark_text_comes_from_the_one_query_through_sqlglot():
    from medsettle.analytics.queries import PROVINCE_PAIRS

    spark_sql = for_engine(PROVINCE_PAIRS, "spark")
    assert spark_sql != PROVINCE_PAIRS  # transpiled, not a second hand-written copy
    assert "GROUP BY" in spark_sql and "SUM(medfee_fen)" in spark_sql


def test_clearing_run_on_spark_writes_the_duckdb_statements(november, tmp_path):
    parquet = tmp_path / "ledger.parquet"
    export_ledger(november, parquet, *NOV)
    assert run_queries(parquet, "duckdb") == run_queries(parquet, "spark")
    result = run_month(
        november, "2026-11", tmp_path / "out", analytics_engine="spark", as_of=AFTER_NOVEMBER
    )
    rows = list(csv.DictReader(io.StringIO(result.files["clearing-2026-11.csv"])))
    assert {(r["insuplc_prov"], r["mdtrtarea_prov"], r["payable"]) for r in rows} == {
        ("650000", "310000", "2650.00"),
        ("650000", "110000", "0.00"),
        ("650000", "440000", "80.00"),
    }
