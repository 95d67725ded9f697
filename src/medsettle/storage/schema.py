"""The tables. Settlements are an append-only ledger; running totals are derived state kept in
the same transaction; answers are kept per (institution, msgid) for idempotent retries."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false

from .types import Money, Price, Quantity, Ratio

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

institutions = Table(
    "institutions",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("fixmedins_name", String(200), nullable=False),
    Column("admdvs", String(6), nullable=False),
    Column("hosp_lv", String(2), nullable=False, default=""),
    Column("cross_prov_opsp", Boolean, nullable=False),
    Column("begndate", Date),
    Column("enddate", Date),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fixmedins_code", String(30), nullable=False, index=True),
    Column("secret_enc", Text, nullable=False),  # Fernet-encrypted secret
    Column("issued_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)

nonces = Table(
    "nonces",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("ts", Integer, nullable=False, index=True),
)

persons = Table(
    "persons",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("insutype", String(3), primary_key=True),
    Column("psn_name", String(100), nullable=False),
    Column("gend", String(1), nullable=False, default=""),
    Column("brdy", Date),
    Column("psn_cert_type", String(3), nullable=False, default="01"),
    Column("certno", String(50), nullable=False, index=True),
    Column("naty", String(3), nullable=False, default=""),
    Column("psn_type", String(6), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("psn_insu_stas", String(1), nullable=False),
    Column("psn_insu_date", Date),
    Column("paus_insu_date", Date),
    Column("emp_name", String(200), nullable=False, default=""),
    Column("card_no", String(50), nullable=False, default="", index=True),
    Column("card_sn", String(64), nullable=False, default=""),
)

accounts = Table(
    "accounts",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("balance", Money(), nullable=False),
)

certifications = Table(
    "certifications",
    metadata,
    Column("trt_dcla_detl_sn", String(40), primary_key=True),
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(3), nullable=False),
    Column("opsp_dise_code", String(30), nullable=False),
    Column("opsp_dise_name", String(200), nullable=False, default=""),
    Column("tel", String(50), nullable=False, default=""),
    Column("addr", String(200), nullable=False, default=""),
    Column("insu_optins", String(6), nullable=False, default=""),
    Column("ide_fixmedins_no", String(30), nullable=False, default=""),
    Column("ide_fixmedins_name", String(200), nullable=False, default=""),
    Column("hosp_ide_date", Date),
    Column("diag_dr_codg", String(30), nullable=False, default=""),
    Column("diag_dr_name", String(50), nullable=False, default=""),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date),
    Column("active", Boolean, nullable=False, default=True),
    Column("memo", String(500), nullable=False, default=""),
    Column("source", String(30), nullable=False, default=""),  # import | fixmedins code
    UniqueConstraint("psn_no", "insutype", "opsp_dise_code", "begndate"),
)

filings = Table(
    "filings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(3), nullable=False),
    Column("category", String(30), nullable=False),
    Column("dest_admdvs", String(6), nullable=False),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date),
    Column("channel", String(20), nullable=False),
    Column("referral_fixmedins_no", String(30), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    # new applications (pages, API, counter): pending until reviewed unless by commitment letter
    Column("status", String(12), nullable=False, default="approved", server_default="approved"),
    Column("commitment", Boolean, nullable=False, default=False, server_default=sa_false()),
    Column("applied_by", String(40), nullable=False, default="", server_default=""),
    Column("created_at", DateTime),
    Column("reviewed_by", String(40), nullable=False, default="", server_default=""),
    Column("review_memo", String(200), nullable=False, default="", server_default=""),
    UniqueConstraint("psn_no", "insutype", "begndate", "dest_admdvs"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("admdvs", String(6), primary_key=True),
    Column("version", String(30), primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date),
    Column("document", Text, nullable=False),  # the policy as JSON
)

catalogue = Table(
    "catalogue",
    metadata,
    Column("admdvs", String(6), primary_key=True),
    Column("med_list_codg", String(50), primary_key=True),
    Column("begndate", Date, primary_key=True),
    Column("med_list_name", String(200), nullable=False),
    Column("med_chrgitm_type", String(10), nullable=False, default=""),
    Column("chrgitm_lv", String(2), nullable=False),
    Column("selfpay_prop", Ratio(), nullable=False),
    Column("pric_uplmt_amt", Price()),
    Column("lmt_used_flag", Boolean, nullable=False, default=False),
    Column("lmt_dise_codes", String(500), nullable=False, default=""),
    Column("enddate", Date),
    Index("ix_catalogue_codg", "med_list_codg"),
)

sign_ins = Table(
    "sign_ins",
    metadata,
    Column("sign_no", String(40), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("opter_no", String(30), nullable=False, default=""),
    Column("sign_time", DateTime, nullable=False),
)

visits = Table(
    "visits",
    metadata,
    Column("mdtrt_id", String(40), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False, index=True),
    Column("psn_no", String(30), nullable=False, index=True),
    Column("insutype", String(3), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    Column("begntime", DateTime, nullable=False),
    Column("ipt_otp_no", String(50), nullable=False, default=""),
    Column("med_type", String(6), nullable=False),
    Column("mdtrt_cert_type", String(3), nullable=False, default=""),
    Column("mdtrt_cert_no", String(600), nullable=False, default=""),
    Column("atddr_no", String(30), nullable=False, default=""),
    Column("dr_name", String(50), nullable=False, default=""),
    Column("dept_code", String(30), nullable=False, default=""),
    Column("dept_name", String(100), nullable=False, default=""),
    Column("caty", String(30), nullable=False, default=""),
    Column("dise_codg", String(30)),
    Column("dise_name", String(200), nullable=False, default=""),
    Column("main_cond_dscr", String(1000), nullable=False, default=""),
    Column("diseinfo", Text, nullable=False, default="[]"),
    Column("state", String(12), nullable=False),  # registered | cancelled
    Column("created_at", DateTime, nullable=False),
)

fee_lines = Table(
    "fee_lines",
    metadata,
    Column("mdtrt_id", String(40), primary_key=True),
    Column("feedetl_sn", String(30), primary_key=True),
    Column("chrg_bchno", String(30), nullable=False, default=""),
    Column("rxno", String(30), nullable=False, default=""),
    Column("dise_codg", String(30), nullable=False, default=""),
    Column("fee_ocur_time", DateTime, nullable=False),
    Column("med_list_codg", String(50), nullable=False),
    Column("medins_list_codg", String(150), nullable=False, default=""),
    Column("det_item_fee_sumamt", Money(), nullable=False),
    Column("cnt", Quantity(), nullable=False),
    Column("pric", Price(), nullable=False),
    Column("pric_uplmt_amt", Price()),
    Column("selfpay_prop", Ratio(), nullable=False),
    Column("fulamt_ownpay_amt", Money(), nullable=False),
    Column("overlmt_amt", Money(), nullable=False),
    Column("preselfpay_amt", Money(), nullable=False),
    Column("inscp_scp_amt", Money(), nullable=False),
    Column("chrgitm_lv", String(2), nullable=False),
    Column("med_chrgitm_type", String(10), nullable=False, default=""),
    Column("lmt_used_flag", String(1), nullable=False, default="0"),
    Column("memo", String(500), nullable=False, default=""),
    Column("bilg_dept_codg", String(30), nullable=False, default=""),
    Column("bilg_dept_name", String(100), nullable=False, default=""),
    Column("bilg_dr_codg", String(30), nullable=False, default=""),
    Column("bilg_dr_name", String(50), nullable=False, default=""),
    Column("hosp_appr_flag", String(3), nullable=False, default=""),
    Column("setl_id", String(40)),  # the settlement that covers the line, None = unsettled
    Column("upload_msgid", String(30), nullable=False, default=""),
)

# The ledger: append-only. A reversal is a new row pointing at its original; the unique
# constraint on init_setl_id makes "reversed at most once" a database fact.
settlements = Table(
    "settlements",
    metadata,
    Column("setl_id", String(40), primary_key=True),
    Column("init_setl_id", String(40), unique=True),
    Column("mdtrt_id", String(40), nullable=False, index=True),
    Column("psn_no", String(30), nullable=False, index=True),
    Column("insutype", String(3), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    Column("clr_type", String(6), nullable=False),
    Column("setl_time", DateTime, nullable=False, index=True),
    Column("year", Integer, nullable=False),
    Column("msgid", String(30), nullable=False),
    Column("medfee_sumamt", Money(), nullable=False),
    Column("fulamt_ownpay_amt", Money(), nullable=False),
    Column("overlmt_selfpay", Money(), nullable=False),
    Column("preselfpay_amt", Money(), nullable=False),
    Column("inscp_scp_amt", Money(), nullable=False),
    Column("act_pay_dedc", Money(), nullable=False),
    Column("hifp_pay", Money(), nullable=False),
    Column("fund_pay_sumamt", Money(), nullable=False),
    Column("psn_part_amt", Money(), nullable=False),
    Column("acct_pay", Money(), nullable=False),
    Column("psn_cash_pay", Money(), nullable=False),
    Column("balc", Money(), nullable=False),
    Column("calculation", Text, nullable=False),  # the full calculation as JSON
    Column("answer", Text, nullable=False),  # the 2207/2208 output as JSON
)

cum_totals = Table(
    "cum_totals",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("insutype", String(3), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("scope", String(30), primary_key=True),
    Column("dedc_paid", Money(), nullable=False),
    Column("payable_base", Money(), nullable=False),
    Column("fund_paid", Money(), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("msgid", String(30), primary_key=True),
    Column("infno", String(4), nullable=False),
    Column("input", Text, nullable=False),  # canonical JSON of the request's input
    Column("output", Text, nullable=False),  # the stored answer's output as JSON
    Column("created_at", DateTime, nullable=False),
    Column("voided_by", String(30)),  # msgid of the 2601 that reversed it
)


# -- clearing between regions (monthly) ----------------------------------------------------------
# Prepayments 预付金 each insured province keeps with the national platform: an append-only list
# of movements; the balance is their sum.
prepayment_entries = Table(
    "prepayment_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("prov", String(6), nullable=False, index=True),
    Column("amount", Money(), nullable=False),
    Column("kind", String(10), nullable=False),  # set | topup | draw
    Column("month", String(7)),  # the clearing month a draw belongs to
    Column("memo", String(200), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
)

# A closed month: its statements are kept as written, so a re-run writes identical files.
clearing_months = Table(
    "clearing_months",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("closed_at", DateTime, nullable=False),
    Column("settlement_count", Integer, nullable=False),
    Column("files", Text, nullable=False),  # JSON {file name: CSV text}
)


# -- filing pages: staff, sessions, one-time codes, the audit log ---------------------------------
staff = Table(
    "staff",
    metadata,
    Column("username", String(40), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(12), nullable=False),  # clerk | reviewer | admin
    Column("password_hash", String(300), nullable=False),  # scrypt, with its salt and costs
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),
)

# Browser sessions of patients and staff: the cookie holds only the random id.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("sid_hash", String(64), primary_key=True),  # SHA-256 of the cookie value
    Column("kind", String(8), nullable=False),  # anon | patient | staff
    Column("subject", String(40), nullable=False, default=""),  # psn_no or username
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
)

# One-time login codes of patients (demo identity check; an SMS gateway replaces the logging).
login_codes = Table(
    "login_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("certno", String(50), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("used", Boolean, nullable=False, default=False),
)

# Every staff action, append-only: the code has no update or delete path for this table.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("actor", String(40), nullable=False),
    Column("role", String(12), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(80), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
)


# Personal-account movements 个人账户流水: append-only; ``accounts.balance`` is their running sum,
# kept in the same transaction, so `medsettle verify` can recompute every balance.
account_entries = Table(
    "account_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), nullable=False, index=True),
    Column("amount", Money(), nullable=False),
    Column("kind", String(12), nullable=False),  # opening | settlement | reversal
    Column("setl_id", String(40)),
    Column("created_at", DateTime, nullable=False),
)
