"""Crash safety under load (reliability issue, point 1), on SQLite and on PostgreSQL.

Eight counters settle visits (2201 → 2203 → 2204 → 2207) against a real `medsettle serve`
process while a killer SIGKILLs it every 1–2.5 s and restarts it on the same database and port.
Every unanswered call is re-sent with the same msgid and the same body until it is answered.
The run ends on a SIGKILL too. Then, reading the database directly:

- every acknowledged 2207 is in the ledger exactly once, with the very answer the counter got;
- every visit was registered once and settled once, its uploaded lines all covered by it;
- every acknowledged message is stored once with the answer the counter got;
- the fund and account money in the ledger is the sum of the acknowledged answers, and each
  personal account is its opening balance less the acknowledged account payments;
- `medsettle verify` finds no drift.

The figures (kills survived, calls retried, …) are printed and written to
build/crash-<database>.json. MEDSETTLE_CRASH_SEED=<n> repeats a run's choices (not its timing).
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from crashload import Profile, ServerFailed, ServerProcess, medsettle_command, run_load
from sqlalchemy import create_engine, select

from medsettle.jsonio import loads
from medsettle.storage.schema import accounts, fee_lines, messages, settlements, visits

THREADS = 8
KILLS = 5
ROOT = Path(__file__).resolve().parents[2]
DEMO_PERSONS = ROOT / "src" / "medsettle" / "demo" / "data" / "persons.csv"

# Demo persons with a certified disease and an approved filing for the treatment place; two of
# them at two counters each, so their settlements also have to be serialised.
PROFILES = [
    Profile("H31010400001", "65320000000000000001", "390", "M00500"),  # Shanghai, resident
    Profile("H11010500001", "65320000000000000002", "310", "M00500", "1"),  # Beijing, account
    Profile("H44030400001", "65320000000000000003", "310", "M07800", "1"),  # Shenzhen, dialysis
    Profile("H11010200001", "65320000000000000004", "390", "M08300"),  # Beijing, referral
    Profile("H44010600001", "65320000000000000006", "310", "M07800", "1"),  # Guangzhou, retiree
    Profile("H11010200001", "65320000000000000010", "390", "M04000"),  # Beijing, long-term
]
AMOUNTS = ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")


@pytest.fixture(
    params=["sqlite", "sqlite-2-workers", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def crash_db(request, tmp_path):
    """(kind, URL); with two server processes, SQLite's writers take turns across processes."""
    if request.param.startswith("sqlite"):
        yield request.param, f"sqlite:///{tmp_path / 'medsettle.db'}"
        return
    pg = request.getfixturevalue("pg_server")
    name = f"crash_{uuid.uuid4().hex[:12]}"
    url = pg.create_database(name)
    yield "postgres", url
    pg.drop_database(name)


def test_acknowledged_settlements_survive_sigkill_under_load(crash_db, tmp_path):
    kind, url = crash_db
    seed = int(os.environ.get("MEDSETTLE_CRASH_SEED") or random.randrange(1_000_000))
    server = ServerProcess(url, tmp_path, workers=2 if kind.endswith("2-workers") else 1)
    try:
        try:
            server.start(demo=True)
        except ServerFailed as failed:
            pytest.fail(f"{failed}:\n{server.log_tail()}")
        secrets = server.demo_secrets()
        missing = {p.code for p in PROFILES} - set(secrets)
        assert not missing, f"`serve --demo` printed no secret for {missing}:\n{server.log_tail()}"
        result = run_load(server, secrets, PROFILES, threads=THREADS, kills=KILLS, seed=seed)
        server.kill()  # the run ends on a crash as well: nothing is shut down cleanly
    finally:
        server.stop()

    log = f"\nseed {seed}; server log {server.log_path}, tail:\n{server.log_tail()}"
    errors, kills_done = result.errors, len(result.kills)
    assert not errors, "\n".join(errors) + log
    assert kills_done == KILLS, f"only {kills_done} kills" + log
    done = [v for v in result.visits if v.settled is not None]
    assert len(done) == len(result.visits) >= THREADS, "a visit was left unfinished" + log

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            ledger = c.execute(select(settlements)).all()
            stored_visits = c.execute(select(visits.c.mdtrt_id, visits.c.state)).all()
            lines = c.execute(select(fee_lines.c.mdtrt_id, fee_lines.c.setl_id)).all()
            stored_messages = {
                (r.fixmedins_code, r.msgid): r for r in c.execute(select(messages)).all()
            }
            balances = dict(c.execute(select(accounts.c.psn_no, accounts.c.balance)).all())
    finally:
        engine.dispose()

    # every acknowledged settlement exactly once, with the answer the counter got
    answers = {v.settled.answer["output"]["setlinfo"]["setl_id"]: v for v in done}
    assert len(answers) == len(done), "two visits were answered with the same setl_id" + log
    assert not [r.setl_id for r in ledger if r.init_setl_id], "a reversal nobody asked for"
    in_ledger = Counter(r.setl_id for r in ledger)
    assert in_ledger == Counter(list(answers)), (
        "ledger ≠ acknowledged settlements: "
        f"missing {sorted(set(answers) - {r.setl_id for r in ledger})}, "
        f"unacknowledged {sorted(set(in_ledger) - set(answers))}, "
        f"twice {sorted(k for k, n in in_ledger.items() if n > 1)}" + log
    )
    for row in ledger:
        visit = answers[row.setl_id]
        assert row.mdtrt_id == visit.mdtrt_id
        assert loads(row.answer) == visit.settled.answer["output"], f"answer of {row.setl_id}"

    # no visit registered or settled twice; every uploaded line covered by its settlement
    by_visit = Counter(r.mdtrt_id for r in ledger)
    assert all(n == 1 for n in by_visit.values()), f"visits settled twice: {by_visit}"
    assert Counter(mdtrt_id for mdtrt_id, _ in stored_visits) == Counter(
        v.mdtrt_id for v in done
    ), "visits in the database ≠ acknowledged registrations (a retried 2201 registered twice?)"
    setl_of = {v.mdtrt_id: s for s, v in answers.items()}
    assert Counter(m for m, _ in lines) == {v.mdtrt_id: v.line_count for v in done}
    assert all(setl_id == setl_of[m] for m, setl_id in lines), "a line not covered by its visit"

    # every acknowledged message stored once, with the answer the counter got
    calls = result.stats.calls
    assert len(stored_messages) == len(calls) == len({(c.code, c.msgid) for c in calls})
    for call in calls:
        row = stored_messages.get((call.code, call.msgid))
        assert row is not None and row.infno == call.infno, f"{call.msgid} not stored"
        assert loads(row.output) == call.answer["output"], f"stored answer of {call.msgid}"

    # the money: ledger = acknowledged answers = what the counters uploaded
    for name in AMOUNTS:
        in_db = sum((getattr(r, name) for r in ledger), Decimal("0.00"))
        acked = sum((v.settled.answer["output"]["setlinfo"][name] for v in done), Decimal("0.00"))
        assert in_db == acked, f"{name}: ledger {in_db}, acknowledged {acked}"
    assert sum(v.settled.answer["output"]["setlinfo"]["medfee_sumamt"] for v in done) == sum(
        v.medfee for v in done
    )
    fund = sum(v.settled.answer["output"]["setlinfo"]["fund_pay_sumamt"] for v in done)
    assert fund > 0
    with open(DEMO_PERSONS, newline="", encoding="utf-8") as fh:
        opening = {
            r["psn_no"]: Decimal(r["acct_balc"]) for r in csv.DictReader(fh) if r["acct_balc"]
        }
    for psn_no in {p.psn_no for p in PROFILES if p.acct_used_flag == "1"}:
        drawn = sum(
            v.settled.answer["output"]["setlinfo"]["acct_pay"]
            for v in done
            if v.profile.psn_no == psn_no
        )
        assert balances[psn_no] == opening[psn_no] - drawn, f"account of {psn_no}"
        assert drawn > 0, f"no account payment of {psn_no} was exercised"

    # `medsettle verify` recomputes every total and balance from the ledger
    verify = subprocess.run(
        [*medsettle_command(), "verify", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert verify.returncode == 0 and verify.stdout.strip() == "", (
        f"verify: exit {verify.returncode}\n{verify.stdout}\n{verify.stderr}"
    )
    assert "问题 0 个" in verify.stderr, verify.stderr

    # figures
    kills = sorted(result.kills)
    lost_and_recovered = 0
    for call in calls:
        if not call.interrupted:
            continue
        before = [k for k in kills if k <= call.interrupted[0]]
        if before and stored_messages[(call.code, call.msgid)].created_at <= before[-1]:
            lost_and_recovered += 1  # committed by a process that was then killed
    figures = {
        "database": kind,
        "seed": seed,
        "threads": THREADS,
        "kills_survived": len(result.kills),
        "restart_seconds_max": round(max(result.restart_seconds), 2),
        "load_seconds": round(result.seconds, 1),
        "calls": len(calls),
        "calls_retried": sum(1 for c in calls if c.attempts > 1),
        "retry_attempts": sum(c.attempts - 1 for c in calls),
        "attempts_refused_while_down": sum(c.refused for c in calls),
        "attempts_answered_5xx": sum(c.server_errors for c in calls),
        "calls_cut_mid_flight": sum(1 for c in calls if c.interrupted),
        "answers_lost_then_replayed_from_store": lost_and_recovered,
        "settlements_acknowledged": len(done),
        "settlements_in_ledger": len(ledger),
        "fund_pay_sumamt": str(fund),
        "lost": 0,
        "doubled": 0,
        "verify": verify.stderr.strip().splitlines()[-1],
    }
    out = ROOT / "build" / f"crash-{kind}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\ncrash test figures ({out}):\n{json.dumps(figures, ensure_ascii=False, indent=2)}")
    assert figures["calls_retried"] > 0, "no call was ever retried: the kills hit nothing"
