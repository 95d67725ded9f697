"""The clearing queries, written once in DuckDB's SQL over a table named ``ledger``; the Spark
backend runs the same text transpiled by SQLGlot. Amounts are summed as integer fen (exact)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlglot

PROVINCE_PAIRS = """
SELECT substr(insuplc_admdvs, 1, 2) || '0000' AS insuplc_prov,
       substr(mdtrtarea_admvs, 1, 2) || '0000' AS mdtrtarea_prov,
       SUM(CASE WHEN init_setl_id IS NULL THEN 1 ELSE -1 END) AS setl_cnt,
       SUM(medfee_fen) AS medfee_fen,
       SUM(fund_fen) AS fund_fen,
       SUM(acct_fen) AS acct_fen
FROM ledger
WHERE substr(insuplc_admdvs, 1, 2) <> substr(mdtrtarea_admvs, 1, 2)
GROUP BY substr(insuplc_admdvs, 1, 2), substr(mdtrtarea_admvs, 1, 2)
ORDER BY insuplc_prov, mdtrtarea_prov
"""

INSTITUTIONS = """
SELECT fixmedins_code,
       mdtrtarea_admvs,
       SUM(CASE WHEN init_setl_id IS NULL THEN 1 ELSE -1 END) AS setl_cnt,
       SUM(medfee_fen) AS medfee_fen,
       SUM(fund_fen) AS fund_fen,
       SUM(acct_fen) AS acct_fen
FROM ledger
WHERE substr(insuplc_admdvs, 1, 2) <> substr(mdtrtarea_admvs, 1, 2)
GROUP BY fixmedins_code, mdtrtarea_admvs
ORDER BY fixmedins_code, mdtrtarea_admvs
"""

QUERIES = {"pairs": PROVINCE_PAIRS, "institutions": INSTITUTIONS}
ENGINES = ("duckdb", "spark")


def for_engine(sql: str, engine: str) -> str:
    if engine == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=engine)[0]


@contextmanager
def duckdb_runner(parquet: Path) -> Iterator:
    import duckdb

    connection = duckdb.connect()
    try:
        connection.execute(
            f"CREATE VIEW ledger AS SELECT * FROM read_parquet('{_quoted(parquet)}')"
        )

        def run(sql: str) -> list[tuple]:
            return connection.execute(sql).fetchall()

        yield run
    finally:
        connection.close()


@contextmanager
def spark_runner(parquet: Path) -> Iterator:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("medsettle-clearing")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.read.parquet(str(parquet)).createOrReplaceTempView("ledger")

    def run(sql: str) -> list[tuple]:
        return [tuple(row) for row in spark.sql(for_engine(sql, "spark")).collect()]

    try:
        yield run
    finally:
        spark.catalog.dropTempView("ledger")


RUNNERS = {"duckdb": duckdb_runner, "spark": spark_runner}


def run_queries(parquet: Path, engine: str = "duckdb") -> dict[str, list[tuple]]:
    with RUNNERS[engine](parquet) as run:
        return {name: run(sql) for name, sql in QUERIES.items()}


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
