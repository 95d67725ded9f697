"""The gateway headers of interface.md, "Authentication", through the real app on both
databases: every refusal is HTTP 401 AUTH_FAILED; a well-signed request passes."""

from __future__ import annotations

import json
import re
import secrets
import time

import httpx
import pytest
from scenarios import DISABLED_HOSPITAL, RESIDENT, SHANGHAI_HOSPITAL

from medsettle.interface.auth import sign_headers
from medsettle.services.credentials import issue
from medsettle.services.imports import import_file

HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
QUERY = {"data": {"psn_no": RESIDENT}}  # 5301: harmless, answers infcode 0 when let through
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def answer_of(response: httpx.Response) -> dict:
    answer = json.loads(response.content)
    assert type(answer["infcode"]) is int
    return answer


def accepted(response: httpx.Response) -> dict:
    answer = answer_of(response)
    assert response.status_code == 200 and answer["infcode"] == 0, answer
    return answer


def auth_failed(response: httpx.Response, *names: str) -> str:
    answer = answer_of(response)
    assert response.status_code == 401, answer
    assert answer["infcode"] == -1 and answer["err_code"] == "AUTH_FAILED", answer
    assert CHINESE.search(answer["err_msg"])
    for name in names:
        assert name in answer["err_msg"], answer["err_msg"]
    return answer["err_msg"]


def signed(his, *, secret: str | None = None, skew: float = 0, nonce: str | None = None) -> dict:
    return sign_headers(his.code, secret or his.secret, time.time() + skew, nonce=nonce)


def query(his, headers: dict | None = None, **envelope) -> httpx.Response:
    return his.post(his.envelope("5301", QUERY, **envelope), headers=headers)


def test_well_signed_request_is_accepted(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    accepted(query(his, signed(his)))


@pytest.mark.parametrize("missing", HEADERS)
def test_missing_header(platform, missing):
    his = platform.his(SHANGHAI_HOSPITAL)
    headers = signed(his)
    del headers[missing]
    auth_failed(query(his, headers), missing)


@pytest.mark.parametrize("missing", HEADERS)
def test_empty_header(platform, missing):
    his = platform.his(SHANGHAI_HOSPITAL)
    auth_failed(query(his, {**signed(his), missing: ""}), missing)


def test_wrong_signature(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    auth_failed(query(his, signed(his, secret="a-wrong-secret")), "x-tif-signature")
    headers = signed(his)
    headers["x-tif-signature"] = headers["x-tif-signature"][:-1] + (
        "0" if headers["x-tif-signature"][-1] != "0" else "1"
    )
    auth_failed(query(his, headers), "x-tif-signature")


def test_signature_of_another_timestamp_is_refused(platform):
    """The timestamp is inside the signature: changing it alone breaks it."""
    his = platform.his(SHANGHAI_HOSPITAL)
    headers = signed(his)
    headers["x-tif-timestamp"] = str(int(headers["x-tif-timestamp"]) - 1)
    auth_failed(query(his, headers), "x-tif-signature")


def test_unknown_institution(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    headers = sign_headers("H99999999999", "whatever-secret", time.time())
    auth_failed(query(his, headers, fixmedins_code="H99999999999"), "H99999999999")


def test_known_institution_without_secret(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    code = "H65320100001"  # in the demo data, never issued a secret
    headers = sign_headers(code, "guessed-secret", time.time())
    auth_failed(query(his, headers, fixmedins_code=code), code)


def test_institution_outside_its_dates(platform, tmp_path):
    code = "H11010100009"
    path = tmp_path / "institutions.csv"
    path.write_text(
        "fixmedins_code,fixmedins_name,admdvs,hosp_lv,cross_prov_opsp,begndate,enddate\n"
        f"{code},已退出协议的医院,110101,2,1,2020-01-01,2021-12-31\n",
        encoding="utf-8",
    )
    import_file(platform.engine, "institutions", path)
    his = platform.his(code)
    auth_failed(query(his, signed(his)), code)


def test_not_enabled_institution_authenticates(platform):
    his = platform.his(DISABLED_HOSPITAL)
    accepted(query(his, signed(his)))


@pytest.mark.parametrize("skew", [-302, 302, -3600, 3600])
def test_timestamp_too_far_from_now(platform, skew):
    his = platform.his(SHANGHAI_HOSPITAL)
    auth_failed(query(his, signed(his, skew=skew)), "x-tif-timestamp")


@pytest.mark.parametrize("skew", [-298, 298])
def test_timestamp_within_300_seconds(platform, skew):
    his = platform.his(SHANGHAI_HOSPITAL)
    accepted(query(his, signed(his, skew=skew)))


def test_timestamp_not_a_number(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    auth_failed(query(his, {**signed(his), "x-tif-timestamp": "2026-11-24"}), "x-tif-timestamp")


@pytest.mark.parametrize("length", [1, 7, 65, 200])
def test_nonce_length_refused(platform, length):
    his = platform.his(SHANGHAI_HOSPITAL)
    auth_failed(query(his, signed(his, nonce="n" * length)), "x-tif-nonce")


@pytest.mark.parametrize("length", [8, 64])
def test_nonce_length_accepted(platform, length):
    his = platform.his(SHANGHAI_HOSPITAL)
    accepted(query(his, signed(his, nonce=secrets.token_hex(32)[:length])))


def test_nonce_replay_refused(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    headers = signed(his)
    accepted(query(his, headers))
    auth_failed(query(his, headers), "x-tif-nonce")
    # the very same bytes again: a captured request cannot be replayed either
    body = his.envelope("5301", QUERY)
    fresh = signed(his)
    accepted(his.post(body, headers=fresh))
    auth_failed(his.post(body, headers=fresh), "x-tif-nonce")


def test_refused_nonce_is_not_burnt_by_a_bad_signature(platform):
    """A forged request must not let an attacker block a nonce the hospital will use."""
    his = platform.his(SHANGHAI_HOSPITAL)
    nonce = secrets.token_hex(16)
    auth_failed(query(his, signed(his, secret="forged-secret", nonce=nonce)))
    accepted(query(his, signed(his, nonce=nonce)))


def test_envelope_institution_differs_from_paasid(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    platform.his("H11010500001")  # a real, issued institution
    auth_failed(query(his, signed(his), fixmedins_code="H11010500001"), "fixmedins_code")


def test_reissued_secret_revokes_the_old_one(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    old = his.secret
    accepted(query(his, signed(his)))
    new = issue(platform.engine, SHANGHAI_HOSPITAL)
    assert new != old
    auth_failed(query(his, signed(his, secret=old)), "x-tif-signature")
    accepted(query(his, signed(his, secret=new)))
    newest = issue(platform.engine, SHANGHAI_HOSPITAL)
    auth_failed(query(his, signed(his, secret=new)))
    accepted(query(his, signed(his, secret=newest)))


def test_transaction_in_path(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    answer = accepted(his.post(his.envelope("5301", QUERY), path="/fsi/api/5301"))
    assert "M00500" in {row["opsp_dise_code"] for row in answer["output"]["feedetail"]}


def test_transaction_in_path_must_match_envelope(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    response = his.post(his.envelope("5301", QUERY), path="/fsi/api/2201")
    answer = answer_of(response)
    assert response.status_code == 200 and answer["infcode"] == -1, answer
    assert answer["err_code"] == "BAD_REQUEST"
    assert "2201" in answer["err_msg"] and "5301" in answer["err_msg"]


def test_path_route_authenticates_too(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    body = his.envelope("5301", QUERY)
    response = his.post(body, headers=signed(his, secret="wrong"), path="/fsi/api/5301")
    auth_failed(response, "x-tif-signature")


def test_a_nonce_older_than_the_window_may_come_back(platform):
    """A nonce remembered with a timestamp past the 300-second window no longer refuses
    anything (expired rows are pruned lazily, so the stale row is renewed instead)."""
    from medsettle.storage.database import UnitOfWork
    from medsettle.storage.schema import nonces

    his = platform.his(SHANGHAI_HOSPITAL)
    nonce = secrets.token_hex(12)
    with UnitOfWork(platform.engine) as uow:
        uow.connection.execute(
            nonces.insert().values(
                fixmedins_code=SHANGHAI_HOSPITAL, nonce=nonce, ts=int(time.time()) - 1000
            )
        )
        uow.commit()
    accepted(query(his, signed(his, nonce=nonce)))
    auth_failed(query(his, signed(his, nonce=nonce)), "x-tif-nonce")  # and now it counts again


def test_a_nonce_refused_by_the_business_stays_spent_and_nothing_else_is_kept(platform):
    """A message admitted and then refused by its handler (here 2201 for an unknown person) is
    rolled back and its admission committed again alone: the nonce stays spent, no visit."""
    from sqlalchemy import func, select

    from medsettle.storage.schema import visits

    his = platform.his(SHANGHAI_HOSPITAL)
    headers = signed(his)
    unknown = {
        "data": {
            "psn_no": "65320099999999999999",
            "insutype": "390",
            "begntime": "2026-03-02 09:00:00",
        }
    }
    refused = answer_of(his.post(his.envelope("2201", unknown), headers=headers))
    assert refused["infcode"] == -1 and refused["err_code"] == "PERSON_NOT_FOUND", refused
    auth_failed(query(his, headers), "x-tif-nonce")  # the same nonce: spent
    with platform.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(visits)).scalar() == 0
