"""The dashboard's server-rendered SVG charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal as D

from medsettle.web.charts import bars_svg, flows_svg

NAMES = {"650000": "新疆维吾尔自治区", "310000": "上海市", "440000": "广东省", "410000": "<河南>"}


def widths(svg: str) -> dict[str, float]:
    return {
        m.group(2): float(m.group(1))
        for m in re.finditer(r'stroke-width="([\d.]+)" fill="none"><title>([^<]+)：', svg)
    }


def test_flow_bands_are_as_wide_as_their_money_and_labels_escaped():
    svg = flows_svg(
        [
            ("650000", "310000", D("3000.00")),
            ("650000", "440000", D("1000.00")),
            ("410000", "310000", D("-5")),
        ],
        NAMES,
    )
    ET.fromstring(svg)  # well-formed
    w = widths(svg)
    assert w["新疆维吾尔自治区 → 上海市"] == 3 * w["新疆维吾尔自治区 → 广东省"]
    assert "&lt;河南&gt;" not in svg  # the negative flow is left out entirely
    assert "3,000.00 元" in svg


def test_escaping_and_empty_states():
    svg = flows_svg([("410000", "310000", D("1"))], NAMES)
    assert "&lt;河南&gt;" in svg and "<河南>" not in svg
    assert "无跨省清算数据" in flows_svg([], NAMES)
    assert "暂无已关账月份" in bars_svg([])


def test_bars_go_below_the_axis_for_negative_months():
    svg = bars_svg([("2026-11", D("2730.00")), ("2026-12", D("-1950.00"))])
    ET.fromstring(svg)
    rects = re.findall(
        r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="(#[0-9a-f]+)"', svg
    )
    (y1, h1, c1), (y2, h2, c2) = rects
    assert c1 == "#1f6feb" and c2 == "#cf222e"
    assert abs(float(y1) + float(h1) - float(y2)) < 0.2  # both meet the zero line
    assert abs(float(h1) / float(h2) - 2730 / 1950) < 0.01
