"""An SVG of predicted loss against model size at the plan's FLOP budget (one curve per fit).

Hand-written SVG because the project has no plotting dependency (matplotlib/plotly are not
in its requirements); the chart is simple enough: log-x axis, one polyline per fit.
"""

from __future__ import annotations

import math
from pathlib import Path

from gpuwise.sizing.laws import FITS, load_laws

W, H, PAD = 720, 420, 60
COLORS = {"approach1": "#1f77b4", "hoffmann": "#d62728", "besiroglu": "#2ca02c"}


def _curves(flops: float, n_lo: float, n_hi: float) -> dict[str, list[tuple[float, float]]]:
    laws = load_laws()
    out: dict[str, list[tuple[float, float]]] = {}
    for fit in FITS:
        law = laws.loss_law(fit)
        pts = []
        for i in range(81):
            n = n_lo * (n_hi / n_lo) ** (i / 80)
            pts.append((n, law.loss(n, flops / (laws.k_train * n))))
        out[fit] = pts
    return out


def write_svg(res: dict[str, object], path: Path) -> None:
    """Write the chart for a :func:`gpuwise.sizing.plan.plan_size` result to ``path``."""
    flops = float(res["flops"])  # type: ignore[arg-type]
    n_opt = float(res["params"])  # type: ignore[arg-type]
    curves = _curves(flops, n_opt / 16, n_opt * 8)
    ys = [y for pts in curves.values() for _, y in pts]
    y_lo, y_hi = min(ys), min(max(ys), min(ys) + 0.3)
    x_lo, x_hi = math.log10(n_opt / 16), math.log10(n_opt * 8)

    def sx(n: float) -> float:
        return PAD + (math.log10(n) - x_lo) / (x_hi - x_lo) * (W - 2 * PAD)

    def sy(y: float) -> float:
        return H - PAD - (min(y, y_hi) - y_lo) / (y_hi - y_lo) * (H - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-size="12">',
        f'<text x="{PAD}" y="20">Predicted loss at {flops:.3g} FLOPs vs parameters</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="black"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="black"/>',
    ]
    for e in range(math.ceil(x_lo), math.floor(x_hi) + 1):
        x = sx(10.0**e)
        parts.append(f'<text x="{x:.0f}" y="{H - PAD + 16}">1e{e}</text>')
    for i in range(5):
        y = y_lo + (y_hi - y_lo) * i / 4
        parts.append(f'<text x="5" y="{sy(y):.0f}">{y:.3f}</text>')
    for k, (fit, pts) in enumerate(curves.items()):
        poly = " ".join(f"{sx(n):.1f},{sy(y):.1f}" for n, y in pts)
        color = COLORS[fit]
        parts.append(f'<polyline fill="none" stroke="{color}" points="{poly}"/>')
        parts.append(f'<text x="{W - PAD - 120}" y="{PAD + 16 * k}" fill="{color}">{fit}</text>')
    fits = res["fits"]
    assert isinstance(fits, dict)
    for fit, v in fits.items():
        parts.append(
            f'<circle cx="{sx(v["params"]):.1f}" cy="{sy(v["loss"]):.1f}" r="4" '
            f'fill="{COLORS[fit]}"/>'
        )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
