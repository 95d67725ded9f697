"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 01:26:13.881653
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", name=op.f("pk_accounts")),
    )
    op.create_table(
        "catalogue",
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("med_list_name", sa.String(length=200), nullable=False),
        sa.Column("med_chrgitm_type", sa.String(length=10), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("selfpay_prop", sa.BigInteger(), nullable=False),
        sa.Column("pric_uplmt_amt", sa.BigInteger(), nullable=True),
        sa.Column("lmt_used_flag", sa.Boolean(), nullable=False),
        sa.Column("lmt_dise_codes", sa.String(length=500), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("admdvs", "med_list_codg", "begndate", name=op.f("pk_catalogue")),
    )
    with op.batch_alter_table("catalogue", schema=None) as batch_op:
        batch_op.create_index("ix_catalogue_codg", ["med_list_codg"], unique=False)

    op.create_table(
        "certifications",
        sa.Column("trt_dcla_detl_sn", sa.String(length=40), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("opsp_dise_code", sa.String(length=30), nullable=False),
        sa.Column("opsp_dise_name", sa.String(length=200), nullable=False),
        sa.Column("tel", sa.String(length=50), nullable=False),
        sa.Column("addr", sa.String(length=200), nullable=False),
        sa.Column("insu_optins", sa.String(length=6), nullable=False),
        sa.Column("ide_fixmedins_no", sa.String(length=30), nullable=False),
        sa.Column("ide_fixmedins_name", sa.String(length=200), nullable=False),
        sa.Column("hosp_ide_date", sa.Date(), nullable=True),
        sa.Column("diag_dr_codg", sa.String(length=30), nullable=False),
        sa.Column("diag_dr_name", sa.String(length=50), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.PrimaryKeyConstraint("trt_dcla_detl_sn", name=op.f("pk_certifications")),
        sa.UniqueConstraint(
            "psn_no",
            "insutype",
            "opsp_dise_code",
            "begndate",
            name=op.f("uq_certifications_psn_no_insutype_opsp_dise_code_begndate"),
        ),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credentials_fixmedins_code"), ["fixmedins_code"], unique=False
        )

    op.create_table(
        "cum_totals",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=30), nullable=False),
        sa.Column("dedc_paid", sa.BigInteger(), nullable=False),
        sa.Column("payable_base", sa.BigInteger(), nullable=False),
        sa.Column("fund_paid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", "insutype", "year", "scope", name=op.f("pk_cum_totals")),
    )
    op.create_table(
        "fee_lines",
        sa.Column("mdtrt_id", sa.String(length=40), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), nullable=False),
        sa.Column("chrg_bchno", sa.String(length=30), nullable=False),
        sa.Column("rxno", sa.String(length=30), nullable=False),
        sa.Column("dise_codg", sa.String(length=30), nullable=False),
        sa.Column("fee_ocur_time", sa.DateTime(), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("medins_list_codg", sa.String(length=150), nullable=False),
        sa.Column("det_item_fee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("cnt", sa.BigInteger(), nullable=False),
        sa.Column("pric", sa.BigInteger(), nullable=False),
        sa.Column("pric_uplmt_amt", sa.BigInteger(), nullable=True),
        sa.Column("selfpay_prop", sa.BigInteger(), nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger(), nullable=False),
        sa.Column("overlmt_amt", sa.BigInteger(), nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger(), nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger(), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("med_chrgitm_type", sa.String(length=10), nullable=False),
        sa.Column("lmt_used_flag", sa.String(length=1), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("bilg_dept_codg", sa.String(length=30), nullable=False),
        sa.Column("bilg_dept_name", sa.String(length=100), nullable=False),
        sa.Column("bilg_dr_codg", sa.String(length=30), nullable=False),
        sa.Column("bilg_dr_name", sa.String(length=50), nullable=False),
        sa.Column("hosp_appr_flag", sa.String(length=3), nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=True),
        sa.Column("upload_msgid", sa.String(length=30), nullable=False),
        sa.PrimaryKeyConstraint("mdtrt_id", "feedetl_sn", name=op.f("pk_fee_lines")),
    )
    op.create_table(
        "filings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("dest_admdvs", sa.String(length=6), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("referral_fixmedins_no", sa.String(length=30), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filings")),
        sa.UniqueConstraint(
            "psn_no",
            "insutype",
            "begndate",
            "dest_admdvs",
            name=op.f("uq_filings_psn_no_insutype_begndate_dest_admdvs"),
        ),
    )
    op.create_table(
        "institutions",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_name", sa.String(length=200), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("hosp_lv", sa.String(length=2), nullable=False),
        sa.Column("cross_prov_opsp", sa.Boolean(), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=True),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("fixmedins_code", name=op.f("pk_institutions")),
    )
    op.create_table(
        "messages",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("msgid", sa.String(length=30), nullable=False),
        sa.Column("infno", sa.String(length=4), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("voided_by", sa.String(length=30), nullable=True),
        sa.PrimaryKeyConstraint("fixmedins_code", "msgid", name=op.f("pk_messages")),
    )
    op.create_table(
        "nonces",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("fixmedins_code", "nonce", name=op.f("pk_nonces")),
    )
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nonces_ts"), ["ts"], unique=False)

    op.create_table(
        "persons",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("psn_name", sa.String(length=100), nullable=False),
        sa.Column("gend", sa.String(length=1), nullable=False),
        sa.Column("brdy", sa.Date(), nullable=True),
        sa.Column("psn_cert_type", sa.String(length=3), nullable=False),
        sa.Column("certno", sa.String(length=50), nullable=False),
        sa.Column("naty", sa.String(length=3), nullable=False),
        sa.Column("psn_type", sa.String(length=6), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("psn_insu_stas", sa.String(length=1), nullable=False),
        sa.Column("psn_insu_date", sa.Date(), nullable=True),
        sa.Column("paus_insu_date", sa.Date(), nullable=True),
        sa.Column("emp_name", sa.String(length=200), nullable=False),
        sa.Column("card_no", sa.String(length=50), nullable=False),
        sa.Column("card_sn", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", "insutype", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_card_no"), ["card_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_persons_certno"), ["certno"], unique=False)

    op.create_table(
        "policy_versions",
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("version", sa.String(length=30), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("admdvs", "version", name=op.f("pk_policy_versions")),
    )
    op.create_table(
        "settlements",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("init_setl_id", sa.String(length=40), nullable=True),
        sa.Column("mdtrt_id", sa.String(length=40), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("clr_type", sa.String(length=6), nullable=False),
        sa.Column("setl_time", sa.DateTime(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("msgid", sa.String(length=30), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger(), nullable=False),
        sa.Column("overlmt_selfpay", sa.BigInteger(), nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger(), nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger(), nullable=False),
        sa.Column("act_pay_dedc", sa.BigInteger(), nullable=False),
        sa.Column("hifp_pay", sa.BigInteger(), nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("psn_part_amt", sa.BigInteger(), nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), nullable=False),
        sa.Column("psn_cash_pay", sa.BigInteger(), nullable=False),
        sa.Column("balc", sa.BigInteger(), nullable=False),
        sa.Column("calculation", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_settlements")),
        sa.UniqueConstraint("init_setl_id", name=op.f("uq_settlements_init_setl_id")),
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlements_mdtrt_id"), ["mdtrt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_settlements_psn_no"), ["psn_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_settlements_setl_time"), ["setl_time"], unique=False)

    op.create_table(
        "sign_ins",
        sa.Column("sign_no", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("opter_no", sa.String(length=30), nullable=False),
        sa.Column("sign_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sign_no", name=op.f("pk_sign_ins")),
    )
    op.create_table(
        "visits",
        sa.Column("mdtrt_id", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("begntime", sa.DateTime(), nullable=False),
        sa.Column("ipt_otp_no", sa.String(length=50), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("mdtrt_cert_type", sa.String(length=3), nullable=False),
        sa.Column("mdtrt_cert_no", sa.String(length=600), nullable=False),
        sa.Column("atddr_no", sa.String(length=30), nullable=False),
        sa.Column("dr_name", sa.String(length=50), nullable=False),
        sa.Column("dept_code", sa.String(length=30), nullable=False),
        sa.Column("dept_name", sa.String(length=100), nullable=False),
        sa.Column("caty", sa.String(length=30), nullable=False),
        sa.Column("dise_codg", sa.String(length=30), nullable=True),
        sa.Column("dise_name", sa.String(length=200), nullable=False),
        sa.Column("main_cond_dscr", sa.String(length=1000), nullable=False),
        sa.Column("diseinfo", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("mdtrt_id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visits_fixmedins_code"), ["fixmedins_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_visits_psn_no"), ["psn_no"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_psn_no"))
        batch_op.drop_index(batch_op.f("ix_visits_fixmedins_code"))

    op.drop_table("visits")
    op.drop_table("sign_ins")
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlements_setl_time"))
        batch_op.drop_index(batch_op.f("ix_settlements_psn_no"))
        batch_op.drop_index(batch_op.f("ix_settlements_mdtrt_id"))

    op.drop_table("settlements")
    op.drop_table("policy_versions")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_certno"))
        batch_op.drop_index(batch_op.f("ix_persons_card_no"))

    op.drop_table("persons")
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonces_ts"))

    op.drop_table("nonces")
    op.drop_table("messages")
    op.drop_table("institutions")
    op.drop_table("filings")
    op.drop_table("fee_lines")
    op.drop_table("cum_totals")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_fixmedins_code"))

    op.drop_table("credentials")
    op.drop_table("certifications")
    with op.batch_alter_table("catalogue", schema=None) as batch_op:
        batch_op.drop_index("ix_catalogue_codg")

    op.drop_table("catalogue")
    op.drop_table("accounts")
