"""Server-rendered SVG charts for the clearing dashboard: no JavaScript library, no CDN.

``flows_svg`` draws a two-column flow diagram (insured provinces on the left, treatment
provinces on the right, each band as wide as the money it carries); ``bars_svg`` a bar chart of
monthly totals. Both escape every label.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

WIDTH = 720
PALETTE = ("#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#0a7a8a", "#d4560b", "#57606a")


def _name(code: str, names: dict[str, str]) -> str:
    return names.get(code, code)


def flows_svg(
    flows: list[tuple[str, str, Decimal]], names: dict[str, str], height: int = 420
) -> str:
    """``flows``: (insured province, treatment province, payable); negative flows are left out."""
    flows = [(a, b, v) for a, b, v in flows if v > 0]
    if not flows:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="40" role="img" aria-label="无跨省清算数据"><text x="8" y="24">本月无跨省清算数据</text></svg>'
    total = sum(v for _, _, v in flows)
    left = _stack({a for a, _, _ in flows}, flows, 0, total, height)
    right = _stack({b for _, b, _ in flows}, flows, 1, total, height)
    scale = Decimal(height - 20 - 8 * max(len(left), len(right))) / total
    colours = {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(sorted(left))}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="参保省份到就医省份的清算资金流向">'
    ]
    out_used = {k: Decimal(0) for k in left}
    in_used = {k: Decimal(0) for k in right}
    x0, x1 = 150, WIDTH - 150
    for a, b, v in sorted(flows, key=lambda f: (left[f[0]], right[f[1]])):
        w = v * scale
        y0 = left[a] + out_used[a] + w / 2
        y1 = right[b] + in_used[b] + w / 2
        out_used[a] += w
        in_used[b] += w
        mid = (x0 + x1) / 2
        parts.append(
            f'<path d="M{x0},{y0:.1f} C{mid},{y0:.1f} {mid},{y1:.1f} {x1},{y1:.1f}" '
            f'stroke="{colours[a]}" stroke-opacity="0.45" stroke-width="{max(w, Decimal(1)):.1f}" fill="none">'
            f"<title>{escape(_name(a, names))} → {escape(_name(b, names))}：{v:,.2f} 元</title></path>"
        )
    for side, nodes, used, x, anchor in (
        (0, left, out_used, x0, "end"),
        (1, right, in_used, x1, "start"),
    ):
        for code, top in nodes.items():
            h = used[code]
            parts.append(
                f'<rect x="{x - (8 if side == 0 else 0)}" y="{top:.1f}" width="8" height="{max(h, Decimal(1)):.1f}" fill="#24292f"/>'
            )
            tx = x - 12 if side == 0 else x + 12
            parts.append(
                f'<text x="{tx}" y="{top + h / 2 + 4:.1f}" text-anchor="{anchor}" font-size="12">'
                f"{escape(_name(code, names))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _stack(codes: set[str], flows, side: int, total: Decimal, height: int) -> dict[str, Decimal]:
    """Top y of each node, largest first, 8 px apart."""
    amount = {c: sum(v for f in flows for v in [f[2]] if f[side] == c) for c in codes}
    usable = Decimal(height - 20 - 8 * len(codes))
    tops, y = {}, Decimal(10)
    for code in sorted(codes, key=lambda c: (-amount[c], c)):
        tops[code] = y
        y += amount[code] / total * usable + 8
    return tops


def bars_svg(values: list[tuple[str, Decimal]], unit: str = "元", height: int = 220) -> str:
    """One bar per (label, value); negative values drawn below the axis."""
    if not values:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="40"><text x="8" y="24">暂无已关账月份</text></svg>'
    top = max(max(v for _, v in values), Decimal(0))
    bottom = min(min(v for _, v in values), Decimal(0))
    span = (top - bottom) or Decimal(1)
    plot = Decimal(height - 40)
    zero = 10 + top / span * plot
    step = Decimal(WIDTH - 60) / len(values)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="各月清算应付金额">',
        f'<line x1="40" x2="{WIDTH - 10}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#8c959f"/>',
    ]
    for i, (label, value) in enumerate(values):
        h = abs(value) / span * plot
        y = zero - h if value >= 0 else zero
        x = 40 + step * i + step / 6
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 2 / 3:.1f}" height="{max(h, Decimal(1)):.1f}" '
            f'fill="{"#1f6feb" if value >= 0 else "#cf222e"}"><title>{escape(label)}：{value:,.2f} {unit}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step / 3:.1f}" y="{height - 8}" text-anchor="middle" font-size="11">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
