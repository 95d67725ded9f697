"""What a load benchmark runs against: the benchmark hospital, its endpoint and its visit's fee
lines; a prepared database (the Hotan demo data, synthetic persons, the hospital's secret); the
database it lives in (SQLite, a throwaway PostgreSQL server or a given URL); and ``medsettle
serve`` started on it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

ENDPOINT = "/fsi/api/rsfComIfsService/callService"
ECHO = "/fsi/api/bench/echo"  # the bare signed echo (the server runs with MEDSETTLE_BENCH_ECHO=1)
HOSPITAL = "H31010400001"
LINES = [("DEMO-A01", "500.00", "4"), ("DEMO-B02", "1200.00", "1"), ("DEMO-C03", "80.00", "2")] + [
    ("DEMO-A01", f"{10 + i}.50", "2") for i in range(7)
]


# -- a visit's four messages (2201 → 2203 → 2204 → 2207), as every load benchmark sends them
def registration(psn: str, when: str) -> dict:
    return {"data": {"psn_no": psn, "insutype": "390", "begntime": when}}


def diagnosis(mdtrt_id: str, psn: str) -> dict:
    return {
        "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn, "med_type": "14", "dise_codg": "M00500"}
    }


def fee_upload(mdtrt_id: str, psn: str, when: str) -> tuple[dict, Decimal]:
    """The 2204 input of ``LINES`` and the visit's total."""
    lines, total = [], Decimal(0)
    for sn, (code, pric, cnt) in enumerate(LINES, 1):
        amount = (Decimal(pric) * Decimal(cnt)).quantize(Decimal("0.01"))
        total += amount
        lines.append({"feedetl_sn": str(sn), "mdtrt_id": mdtrt_id, "psn_no": psn, "fee_ocur_time": when,
                      "med_list_codg": code, "det_item_fee_sumamt": str(amount), "cnt": cnt, "pric": pric})  # fmt: skip
    return {"feedetail": lines}, total


def settlement(mdtrt_id: str, psn: str, total: Decimal) -> dict:
    return {
        "data": {
            "psn_no": psn,
            "mdtrt_id": mdtrt_id,
            "medfee_sumamt": str(total),
            "insutype": "390",
        }
    }


def synthetic_people(folder: Path, count: int) -> None:
    """Persons insured in Hotan with an M00500 certification and a Shanghai filing."""
    persons = [
        "psn_no,psn_name,gend,brdy,psn_cert_type,certno,naty,insutype,psn_type,insuplc_admdvs,psn_insu_stas,"
        "psn_insu_date,paus_insu_date,acct_balc,emp_name,card_no,card_sn"
    ]
    certs = [
        "psn_no,insutype,opsp_dise_code,opsp_dise_name,ide_fixmedins_no,ide_fixmedins_name,hosp_ide_date,diag_dr_codg,diag_dr_name,begndate,enddate"
    ]
    filings = [
        "psn_no,insutype,category,dest_admdvs,begndate,enddate,channel,referral_fixmedins_no"
    ]
    for i in range(count):
        psn = f"6532009{i:013d}"
        persons.append(
            f"{psn},压测人员{i},1,1970-01-01,01,B{i:017d},01,390,1401,653200,1,2010-01-01,,,,BJ{i},"
        )
        certs.append(
            f"{psn},390,M00500,恶性肿瘤门诊放化疗,H65320100001,和田地区人民医院,2025-01-01,D1,医生,2025-01-01,"
        )
        filings.append(f"{psn},390,long_term_resident,310000,2025-01-01,,app,")
    for name, rows in (("persons", persons), ("certifications", certs), ("filings", filings)):
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def medsettle(*args: str, env: dict, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "medsettle.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    return done.stdout


def prepare(work: Path, url: str, people_count: int) -> tuple[dict, str, list[str]]:
    """A database with the Hotan demo data, ``people_count`` synthetic persons (certified,
    filed) and a secret for the benchmark hospital: (environment, secret, psn_nos)."""
    env = {**os.environ, "MEDSETTLE_KEY_FILE": str(work / "key"), "MEDSETTLE_BENCH_ECHO": "1"}
    print(f"preparing {url.split('@')[-1]} …", file=sys.stderr, flush=True)
    medsettle("init", "--db", url, env=env, cwd=work)
    from medsettle.demo import files

    for kind, path in files():
        medsettle("import", kind, str(path), "--db", url, env=env, cwd=work)
    synthetic_people(work, people_count)
    for kind in ("persons", "certifications", "filings"):
        medsettle("import", kind, str(work / f"{kind}.csv"), "--db", url, env=env, cwd=work)
    secret = (
        medsettle("credentials", HOSPITAL, "--db", url, env=env, cwd=work).strip().splitlines()[-1]
    )
    return env, secret, [f"6532009{i:013d}" for i in range(people_count)]


def start_server(env: dict, work: Path, url: str, workers: int, profile: str | None = None):
    """``medsettle serve`` on a free port, ready: (process, base URL)."""
    port = free_port()
    spy = (
        ["py-spy", "record", "--rate", "400", "--format", "raw", "-o", profile, "--"]
        if profile
        else []
    )
    server = subprocess.Popen(
        [*spy, sys.executable, "-m", "medsettle.cli", "serve", "--port", str(port), "--db", url,
         "--log-level", "warning", "--workers", str(workers)],
        env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "ab"),
    )  # fmt: skip
    print(f"server log: {work / 'server.log'} (kept if the run fails)", file=sys.stderr)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not become ready")


POSTGRES = {"postgres": "unix socket", "postgres-tcp": "tcp 127.0.0.1"}


def with_database(kind: str, work: Path, measure) -> int:
    """Run ``measure(url)`` on SQLite in ``work``, a throwaway durable PostgreSQL server reached
    through its Unix socket (``postgres``, as a server on the same host is configured) or over
    TCP on 127.0.0.1 (``postgres-tcp``), or a given URL of an empty database. ``work`` (its
    database, tens of MB) is removed when the measurement succeeds, and kept, with the server's
    log, when it fails."""
    if kind == "sqlite":
        result = measure(f"sqlite:///{work / 'load.db'}")
    elif kind not in POSTGRES:
        result = measure(kind)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from pgserver import PostgresServer

        pg = PostgresServer(durable=True).start()
        try:
            url = pg.create_database("medsettle_load")
            if kind == "postgres":
                url = pg.socket_url("medsettle_load")
            result = measure(url)
        finally:
            pg.stop()
    if result == 0:
        shutil.rmtree(work, ignore_errors=True)
    return result
