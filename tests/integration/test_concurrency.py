"""settlement.md, "Concurrency": settlements of one person are serialised, so counters settling
for the same person at once never pay past the cap nor apply the deductible twice; a settlement
is reversed at most once; a msgid answered concurrently is answered once.

The real application runs under uvicorn in a thread and every HIS thread has its own HTTP
connection, so the requests really overlap in the server's thread pool and the database.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

import httpx
import pytest
import uvicorn
from his import His
from scenarios import (
    BEIJING_HOSPITAL,
    EXAMPLE1_LINES,
    RESIDENT,
    RETIREE,
    SHANGHAI_HOSPITAL,
    settle_input,
    visit_with_lines,
)
from sqlalchemy import func, select

from medsettle import demo
from medsettle.interface.app import create_app
from medsettle.jsonio import loads
from medsettle.services.credentials import issue
from medsettle.storage import schema
from medsettle.storage.database import make_engine
from medsettle.storage.migrate import upgrade

THREADS = 16
VISITS = 40
LINE = ("1", "DEMO-A01", "5000.00", "1", "5000.00")  # 01 class: all in scope
CAP, DEDUCTIBLE, RATIO = Decimal("100000.00"), Decimal("300.00"), Decimal("0.75")
BUSINESS_CODES = {
    "VISIT_NOT_FOUND", "VISIT_STATE", "NOTHING_TO_SETTLE", "AMOUNT_MISMATCH", "ALREADY_REVERSED",
    "SETTLEMENT_NOT_FOUND", "DUPLICATE_MSGID", "POLICY_NOT_FOUND", "NOT_FILED", "NOT_CERTIFIED",
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    """The demo platform served by uvicorn in a thread; one HTTP client per HIS thread."""

    def __init__(self, engine):
        self.engine = engine
        self.secrets = {code: issue(engine, code) for code in (SHANGHAI_HOSPITAL, BEIJING_HOSPITAL)}
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(engine), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.clients: list[httpx.Client] = []

    def his(self, code: str = SHANGHAI_HOSPITAL) -> His:
        client = httpx.Client(base_url=self.base, timeout=120)
        self.clients.append(client)
        return His(client, code, self.secrets[code])

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(params=["postgres", "sqlite"])
def platform(request, tmp_path):
    if request.param == "postgres":
        pg = request.getfixturevalue("pg_server")
        name = f"conc_{uuid.uuid4().hex[:12]}"
        url = pg.create_database(name)
    else:
        url = f"sqlite:///{tmp_path / 'medsettle.db'}"
    engine = make_engine(url)
    upgrade(engine)
    demo.load(engine)
    served = Platform(engine)
    yield served
    served.stop()
    engine.dispose()
    if request.param == "postgres":
        pg.drop_database(name)


def at_once(calls: list[Callable[[], httpx.Response]], threads: int) -> list[tuple[int, dict]]:
    """Run the calls on ``threads`` threads that all start together; (status, answer) each."""
    barrier = threading.Barrier(threads)
    chunks = [calls[i::threads] for i in range(threads)]

    def worker(chunk):
        barrier.wait(timeout=60)
        return [(r.status_code, loads(r.content)) for r in (call() for call in chunk)]

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, chunks))
    return [answer for chunk in results for answer in chunk]


def settle_call(his: His, mdtrt_id: str, medfee: str, msgid: str | None = None):
    body = his.envelope("2207", settle_input(mdtrt_id, RESIDENT, "390", medfee), msgid)
    return lambda: his.post(body)


def assert_no_internal_errors(answers: list[tuple[int, dict]]) -> None:
    for status, answer in answers:
        assert status == 200, (status, answer)
        assert answer["infcode"] in (0, -1), answer
        if answer["infcode"] == -1:
            assert answer["err_code"] in BUSINESS_CODES, answer


def totals(engine, scope: str):
    t = schema.cum_totals
    with engine.connect() as c:
        return c.execute(
            select(t.c.dedc_paid, t.c.payable_base, t.c.fund_paid).where(
                t.c.psn_no == RESIDENT, t.c.insutype == "390", t.c.year == 2026, t.c.scope == scope
            )
        ).first()


def settlement_rows(engine, *where) -> int:
    s = schema.settlements
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(s).where(*where)).scalar()


def money(value) -> Decimal:
    return Decimal(str(value))


def test_many_counters_settling_one_person_never_pay_past_the_cap(platform):
    setup = platform.his()
    visits = [visit_with_lines(setup, RESIDENT, "390", [LINE]) for _ in range(VISITS)]
    hiss = [platform.his() for _ in range(THREADS)]
    calls = [settle_call(hiss[i % THREADS], v, "5000.00") for i, v in enumerate(visits)]

    answers = at_once(calls, THREADS)

    assert_no_internal_errors(answers)
    outputs = [a["output"] for _, a in answers if a["infcode"] == 0]
    infos = [o["setlinfo"] for o in outputs]
    paid = sum((money(i["hifp_pay"]) for i in infos), Decimal(0))
    deductible = sum((money(i["act_pay_dedc"]) for i in infos), Decimal(0))
    inscp = sum((money(i["inscp_scp_amt"]) for i in infos), Decimal(0))
    due = (inscp - min(inscp, DEDUCTIBLE)) * RATIO
    assert paid == min(CAP, due) == CAP, f"fund paid {paid}"
    assert deductible == DEDUCTIBLE
    assert [money(i["act_pay_dedc"]) for i in infos].count(DEDUCTIBLE) == 1
    for out in outputs:
        info, basic = out["setlinfo"], out["setldetail"][0]
        assert money(info["hifp_pay"]) == money(basic["fund_payamt"])
        assert money(info["hifp_pay"]) <= money(basic["crt_payb_lmt_amt"])
        assert money(info["psn_part_amt"]) == Decimal("5000.00") - money(info["hifp_pay"])
    # the running totals hold exactly the sum of the answers
    cap_scope, ded_scope = totals(platform.engine, "M00500"), totals(platform.engine, "opsp")
    assert money(cap_scope.fund_paid) == paid
    assert money(cap_scope.payable_base) == inscp - DEDUCTIBLE
    assert money(ded_scope.dedc_paid) == DEDUCTIBLE
    assert settlement_rows(platform.engine) == len(infos)
    # and every one of the distinct, valid visits was settled
    assert len(infos) == VISITS, [a["err_code"] for _, a in answers if a["infcode"] != 0]
    # the cap is reached: one more settlement pays nothing
    extra = visit_with_lines(setup, RESIDENT, "390", [LINE])
    last = setup.ok("2207", settle_input(extra, RESIDENT, "390", "5000.00"))["setlinfo"]
    assert money(last["hifp_pay"]) == 0 and money(last["psn_cash_pay"]) == Decimal("5000.00")


def test_many_counters_drawing_on_one_personal_account_never_overdraw_it(platform):
    """Worked example 2's retiree (account 200.00): each settlement may draw on the account."""
    setup = platform.his(BEIJING_HOSPITAL)
    line = ("1", "DEMO-A01", "100.00", "1", "100.00")
    visits = [visit_with_lines(setup, RETIREE, "310", [line]) for _ in range(THREADS)]
    hiss = [platform.his(BEIJING_HOSPITAL) for _ in range(THREADS)]
    calls = []
    for his, mdtrt_id in zip(hiss, visits, strict=True):
        input_ = settle_input(mdtrt_id, RETIREE, "310", "100.00", acct_used_flag="1")
        body = his.envelope("2207", input_)
        calls.append(partial(his.post, body))

    answers = at_once(calls, THREADS)

    assert_no_internal_errors(answers)
    infos = [a["output"]["setlinfo"] for _, a in answers if a["infcode"] == 0]
    assert len(infos) == THREADS, [a["err_code"] for _, a in answers]
    # ratio 0.80, no deductible: 80.00 from the fund and 20.00 for the person each time
    assert {money(i["hifp_pay"]) for i in infos} == {Decimal("80.00")}
    assert sum((money(i["acct_pay"]) for i in infos), Decimal(0)) == Decimal("200.00")
    # in the order they were serialised: 180.00, 160.00, … 0.00, then 0.00 for the rest
    expected = [Decimal(max(0, 180 - 20 * k)) for k in range(THREADS)]
    assert sorted(money(i["balc"]) for i in infos) == sorted(expected)
    for info in infos:
        assert money(info["acct_pay"]) + money(info["psn_cash_pay"]) == Decimal("20.00")
    a = schema.accounts
    with platform.engine.connect() as c:
        balance = c.execute(select(a.c.balance).where(a.c.psn_no == RETIREE)).scalar()
    assert money(balance) == 0


def test_two_reversals_of_one_settlement_at_once_reverse_it_once(platform):
    setup = platform.his()
    first = visit_with_lines(setup, RESIDENT, "390", EXAMPLE1_LINES)
    kept = setup.ok("2207", settle_input(first, RESIDENT, "390", "3510.00"))["setlinfo"]
    second = visit_with_lines(setup, RESIDENT, "390", [LINE])
    target = setup.ok("2207", settle_input(second, RESIDENT, "390", "5000.00"))["setlinfo"]
    assert money(kept["hifp_pay"]) == Decimal("1950.00")
    assert money(target["hifp_pay"]) == Decimal("3750.00")
    before = totals(platform.engine, "M00500")
    assert money(before.fund_paid) == Decimal("5700.00")

    hiss = [platform.his(), platform.his()]
    data = {"data": {"setl_id": target["setl_id"], "mdtrt_id": second, "psn_no": RESIDENT}}
    calls = [lambda his=his: his.post(his.envelope("2208", data)) for his in hiss]
    answers = at_once(calls, 2)

    assert_no_internal_errors(answers)
    codes = sorted(a["err_code"] for _, a in answers)
    assert codes == ["", "ALREADY_REVERSED"], answers
    done = next(a["output"]["setlinfo"] for _, a in answers if a["infcode"] == 0)
    assert done["init_setl_id"] == target["setl_id"]
    assert money(done["hifp_pay"]) == Decimal("-3750.00")
    after = totals(platform.engine, "M00500")
    assert money(after.fund_paid) == Decimal("1950.00")  # dropped once, by the reversed 3750.00
    assert money(after.payable_base) == Decimal("2600.00")
    assert money(totals(platform.engine, "opsp").dedc_paid) == DEDUCTIBLE
    s = schema.settlements
    assert settlement_rows(platform.engine, s.c.init_setl_id == target["setl_id"]) == 1
    assert settlement_rows(platform.engine) == 3
    # the lines are unsettled again and settle anew at the same figures
    again = setup.ok("2207", settle_input(second, RESIDENT, "390", "5000.00"))["setlinfo"]
    assert money(again["hifp_pay"]) == Decimal("3750.00")


@pytest.mark.parametrize("copies", [2, 4])
def test_one_msgid_sent_by_several_threads_at_once_settles_once(platform, copies):
    setup = platform.his()
    rounds = 5
    visits = [visit_with_lines(setup, RESIDENT, "390", [LINE]) for _ in range(rounds)]
    hiss = [platform.his() for _ in range(copies)]
    for n, mdtrt_id in enumerate(visits):
        msgid = f"SAME{uuid.uuid4().hex[:20]}"
        input_ = settle_input(mdtrt_id, RESIDENT, "390", "5000.00")
        calls = [partial(his.post, his.envelope("2207", input_, msgid)) for his in hiss]
        answers = at_once(calls, copies)

        assert_no_internal_errors(answers)
        assert [a["err_code"] for _, a in answers] == [""] * copies, (n, answers)
        outputs = [a["output"] for _, a in answers]
        assert len({o["setlinfo"]["setl_id"] for o in outputs}) == 1, (n, outputs)
        assert all(o == outputs[0] for o in outputs)
        s = schema.settlements
        assert settlement_rows(platform.engine, s.c.mdtrt_id == mdtrt_id) == 1
    paid = money(totals(platform.engine, "M00500").fund_paid)
    assert paid == Decimal("3525.00") + Decimal("3750.00") * (rounds - 1)
    assert settlement_rows(platform.engine) == rounds
