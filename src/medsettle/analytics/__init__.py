"""Analytics over an export of the ledger (Parquet): clearing and reconciliation queries run on
an analytical engine (DuckDB embedded; the same SQL transpiled for Spark), never row by row."""
