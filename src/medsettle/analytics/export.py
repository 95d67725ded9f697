"""Export of ledger rows to Parquet, streamed in batches: money stays integer fen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import BigInteger, Engine, select, type_coerce

from medsettle.storage.schema import settlements, visits

LEDGER_SCHEMA = pa.schema(
    [
        ("setl_id", pa.string()),
        ("init_setl_id", pa.string()),
        ("fixmedins_code", pa.string()),
        ("insuplc_admdvs", pa.string()),
        ("mdtrtarea_admvs", pa.string()),
        ("insutype", pa.string()),
        ("dise_codg", pa.string()),
        ("setl_time", pa.timestamp("s")),
        ("medfee_fen", pa.int64()),
        ("fund_fen", pa.int64()),
        ("acct_fen", pa.int64()),
    ]
)

BATCH = 50_000


def export_ledger(
    engine: Engine,
    path: Path,
    begin: datetime,
    end: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write every ledger row timed in [begin, end) to ``path``; answers the row count."""
    columns = [
        settlements.c.setl_id,
        settlements.c.init_setl_id,
        settlements.c.fixmedins_code,
        settlements.c.insuplc_admdvs,
        settlements.c.mdtrtarea_admvs,
        settlements.c.insutype,
        visits.c.dise_codg,
        settlements.c.setl_time,
        type_coerce(settlements.c.medfee_sumamt, BigInteger).label("medfee_fen"),
        type_coerce(settlements.c.fund_pay_sumamt, BigInteger).label("fund_fen"),
        type_coerce(settlements.c.acct_pay, BigInteger).label("acct_fen"),
    ]
    query = (
        select(*columns)
        .select_from(settlements.outerjoin(visits, visits.c.mdtrt_id == settlements.c.mdtrt_id))
        .where(settlements.c.setl_time >= begin, settlements.c.setl_time < end)
        .order_by(settlements.c.setl_time, settlements.c.setl_id)
    )
    count = 0
    with engine.connect() as connection, pq.ParquetWriter(path, LEDGER_SCHEMA) as writer:
        result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        for batch in result.partitions(BATCH):
            table = pa.Table.from_pylist(
                [dict(row._mapping) for row in batch], schema=LEDGER_SCHEMA
            )
            writer.write_table(table)
            count += len(batch)
            if progress:
                progress(count)
        if count == 0:
            writer.write_table(LEDGER_SCHEMA.empty_table())
    return count
