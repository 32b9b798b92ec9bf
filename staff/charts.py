"""Charts as inline SVG: no JavaScript, no image files, nothing the CSP has to allow.

Only presentation attributes are used (fill, font-size…), never `style=` attributes,
which `style-src 'self'` would block. Each chart has a <title> and <desc> for screen
readers; the statistics page also shows the numbers as tables.

Each chart comes in two layouts: wide, and `compact` for a phone's width (a narrower
drawing whose text, once the SVG is scaled to the screen, stays as large as the page's
small print; bar labels above the bars, legend on several lines).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
_FONT = 'font-family="system-ui, sans-serif"'
Number = Callable[[float], str]


def nice_step(maximum: float, ticks: int = 5) -> float:
    """A round gridline step (1, 2 or 5 × 10^k) giving about `ticks` lines up to `maximum`."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power: float = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return max(float(factor * power), 1.0)
    return 10.0 * power


COMPACT_WIDTH = 360
_LEGEND_LINE = 18


def _legend(
    names: Sequence[str], x: float, y: float, wrap_at: float | None = None
) -> tuple[list[str], float]:
    """The legend from (`x`, `y`), on further lines past `wrap_at` when given; with the
    baseline of its last line."""
    parts, cursor = [], x
    for index, name in enumerate(names):
        width = 24 + 7 * len(name)
        if wrap_at is not None and cursor > x and cursor + width > wrap_at:
            cursor, y = x, y + _LEGEND_LINE
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{cursor:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{cursor + 16:.0f}" y="{y:.0f}" font-size="12" {_FONT}>{escape(name)}</text>'
        )
        cursor += width
    return parts, y


def _frame(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f"<desc>{escape(desc)}</desc>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text above is escaped


def stacked_columns(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    title: str,
    number: Number,
    *,
    compact: bool = False,
) -> Markup:
    """Vertical stacked columns, one per x label (e.g. weeks), one colour per series;
    `compact`: as many x labels as fit without overlapping."""
    width = COMPACT_WIDTH if compact else 760
    left, right, bottom = 48, 12, 46
    body, legend_end = _legend(
        [name for name, _ in series], left, 18, wrap_at=width - right if compact else None
    )
    top = int(legend_end) + 16
    height = top + 240 + bottom
    totals = [sum(values[i] for _, values in series) for i in range(len(x_labels))]
    step = nice_step(max(totals, default=0))
    top_value = step * max(math.ceil(max(totals, default=0) / step), 1)
    plot_h, plot_w = height - top - bottom, width - left - right
    value = 0.0
    while value <= top_value + 1e-9:
        y = top + plot_h - plot_h * value / top_value
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" {_FONT}>'
            f"{escape(number(value))}</text>"
        )
        value += step
    slot = plot_w / max(len(x_labels), 1)
    bar_w = slot * 0.7
    every = max(math.ceil(52 / slot), 1)  # a label ("12 mars") is about 52 units wide
    for i, label in enumerate(x_labels):
        x = left + i * slot + (slot - bar_w) / 2
        base = float(top + plot_h)
        for index, (name, values) in enumerate(series):
            if not values[i]:
                continue
            h = plot_h * values[i] / top_value
            base -= h
            body.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)} — '
                f"{escape(name)} : {escape(number(values[i]))}</title></rect>"
            )
        if i % every == 0:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
                f'text-anchor="middle" {_FONT}>{escape(label)}</text>'
            )
    total = sum(totals)
    desc = f"{title} : {number(total)} au total sur {len(x_labels)} périodes."
    return _frame(width, height, title, desc, body)


def horizontal_bars(
    rows: Sequence[tuple[str, Sequence[int]]],
    segment_names: Sequence[str],
    title: str,
    number: Number,
    *,
    compact: bool = False,
) -> Markup:
    """Horizontal bars, one per row label, optionally split into coloured segments;
    `compact`: each label above its bar, which then has the whole width."""
    width = COMPACT_WIDTH if compact else 760
    label_w, right = (0, 48) if compact else (190, 60)
    row_h, bar_top = (40, 20) if compact else (24, 4)
    body, legend_end = (
        _legend(segment_names, label_w, 18, wrap_at=width - right if compact else None)
        if len(segment_names) > 1
        else ([], -4.0)
    )
    top = int(legend_end) + 12
    height = top + row_h * max(len(rows), 1) + 8
    plot_w = width - label_w - right
    maximum = max((sum(values) for _, values in rows), default=0) or 1
    for i, (label, values) in enumerate(rows):
        y = top + i * row_h
        label_at = f'x="0" y="{y + 14}"' if compact else f'x="{label_w - 8}" y="{y + 16}"'
        anchor = "start" if compact else "end"
        body.append(
            f'<text {label_at} font-size="12" text-anchor="{anchor}" {_FONT}>{escape(label)}</text>'
        )
        x = float(label_w)
        for index, value in enumerate(values):
            if not value:
                continue
            w = plot_w * value / maximum
            name = segment_names[index] if index < len(segment_names) else ""
            body.append(
                f'<rect x="{x:.1f}" y="{y + bar_top}" width="{w:.1f}" height="16" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)} — '
                f"{escape(name)} : {escape(number(value))}</title></rect>"
            )
            x += w
        body.append(
            f'<text x="{x + 6:.1f}" y="{y + bar_top + 12}" font-size="12" {_FONT}>'
            f"{escape(number(sum(values)))}</text>"
        )
    desc = f"{title} : {len(rows)} lignes."
    return _frame(width, height, title, desc, body)
