"""The dashboard's charts as plain shapes for ``staff/_charts.html`` to draw as SVG.

Drawn on the server, without a charting library or a line of script: the
strict CSP (no inline script or style) holds, and the page works without
JavaScript. Colours are SVG presentation attributes (``fill``), which the
CSP's ``style-src`` does not govern. Every chart carries the table it was
drawn from: shown to screen readers and anyone who opens it, and the rows
of its CSV download. Every word a chart says -- titles, headings, bar
titles, the summary sentence, day-and-month labels -- is in the language of
the page being drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent

from consentmgr.i18n import _, current_language

# Okabe-Ito: told apart with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D1F", "#000000")
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 36
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Rect:
    """One bar (or bar segment)."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str
    text: str = ""  # written beside the bar (ranked charts)


@dataclass(frozen=True)
class Line:
    """One series as a polyline, with its points as dots."""

    points: str
    stroke: str
    label: str
    dots: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class Marker:
    """A vertical rule at a date (a policy version taking effect)."""

    x: float
    label: str


@dataclass(frozen=True)
class Table:
    """The data behind a chart: a caption, column headings and rows of text."""

    caption: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass
class Chart:
    """What the template draws, and the sentence said about it."""

    id: str
    title: str
    summary: str
    table: Table
    empty: bool = False
    kind: str = "weekly"  # or "ranked": horizontal bars, one per name
    bars: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: float = TOP + PLOT_H


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000):
        if value <= step * 4:
            return step * 4
    magnitude = 10 ** (len(str(int(value))) - 1)
    return -(-value // magnitude) * magnitude


def _y(value: float, top: float) -> float:
    return round(TOP + PLOT_H - (value / top) * PLOT_H, 1)


def _locale() -> str:
    # English as written in Europe (day first: "02 Nov"), as the charts always said it.
    language = current_language()
    return "en_GB" if language == "en" else language


def _day_month(day: dt.date, *, year: bool = False) -> str:
    """Day and month name (and year) in the page's language: "02 Nov", "2. Nov."."""
    return format_skeleton("ddMMMy" if year else "ddMMM", day, locale=_locale())


def _number(value: float) -> str:
    """An axis tick in the page's language: "0.25", "0,25"."""
    return format_decimal(value, locale=_locale())


def _percent(share: float) -> str:
    """A share in the page's language: "25%", "25 %"."""
    return format_percent(share, locale=_locale())


def _point_title(week: dt.date, series: str, value: str) -> str:
    return _("Week from %(date)s, %(series)s: %(value)s", date=_day_month(week, year=True),
             series=series, value=value)


def _week_label(week: dt.date) -> str:
    return _day_month(week)


def _x_labels(weeks: Sequence[dt.date], slot: float) -> list[tuple[float, str]]:
    step = max(1, -(-len(weeks) // MAX_X_LABELS))
    return [(round(LEFT + slot * (i + 0.5), 1), _week_label(w))
            for i, w in enumerate(weeks) if i % step == 0]


def _markers(weeks: Sequence[dt.date], slot: float,
             versions: Sequence[tuple[str, dt.date]]) -> list[Marker]:
    if not weeks:
        return []
    first = weeks[0]
    marks = []
    for label, effective in versions:
        offset = (effective - first).days / 7
        if 0 <= offset <= len(weeks):
            marks.append(Marker(round(LEFT + slot * offset, 1),
                                _("Policy %(version)s", version=label)))
    return marks


def stacked_bars(chart_id: str, title: str, weeks: Sequence[dt.date],
                 series: dict[str, list[int]], *, labels: dict[str, str] | None = None,
                 versions: Sequence[tuple[str, dt.date]] = (), empty_sentence: str,
                 unit: str = "") -> Chart:
    """Weekly bars, one colour per series stacked; ``versions`` mark policy dates."""
    labels = labels or {}
    keys = [k for k in series if any(series[k])] or list(series)
    totals = [sum(series[k][i] for k in keys) for i in range(len(weeks))]
    slot = PLOT_W / max(1, len(weeks))
    top = _nice_max(max(totals, default=0))
    table = Table(title, [_("Week from")] + [labels.get(k, k) for k in keys] + [_("Total")],
                  [[f"{w:%Y-%m-%d}"] + [str(series[k][i]) for k in keys] + [str(totals[i])]
                   for i, w in enumerate(weeks)])
    chart = Chart(chart_id, title, "", table, empty=not any(totals),
                  markers=_markers(weeks, slot, versions), x_labels=_x_labels(weeks, slot),
                  y_ticks=[(_y(top * f, top), _number(top * f)) for f in (0, .25, .5, .75, 1)],
                  legend=[(PALETTE[i % len(PALETTE)], labels.get(k, k)) for i, k in enumerate(keys)])
    for i, week in enumerate(weeks):
        base = 0
        for j, key in enumerate(keys):
            value = series[key][i]
            if not value:
                continue
            y_top, y_base = _y(base + value, top), _y(base, top)
            chart.bars.append(Rect(round(LEFT + slot * i + slot * 0.15, 1), y_top,
                                   round(slot * 0.7, 1), round(y_base - y_top, 1),
                                   PALETTE[j % len(PALETTE)],
                                   _point_title(week, labels.get(key, key), f"{value}{unit}")))
            base += value
    total = sum(totals)
    chart.summary = (empty_sentence if chart.empty else
                     _("%(total)s in %(weeks)s weeks; the busiest week (from %(date)s) had "
                       "%(most)s.", total=total, weeks=len(weeks),
                       date=_day_month(weeks[totals.index(max(totals))]), most=max(totals)))
    return chart


def rate_lines(chart_id: str, title: str, weeks: Sequence[dt.date],
               series: dict[str, list[float | None]], *, labels: dict[str, str] | None = None,
               versions: Sequence[tuple[str, dt.date]] = (), empty_sentence: str) -> Chart:
    """Weekly shares (0-1) as lines, one per series; weeks without data leave a gap."""
    labels = labels or {}
    slot = PLOT_W / max(1, len(weeks))
    keys = [k for k in series if any(v is not None for v in series[k])]
    table = Table(title, [_("Week from")] + [labels.get(k, k) for k in series],
                  [[f"{w:%Y-%m-%d}"] + ["" if series[k][i] is None else _percent(series[k][i])
                                        for k in series] for i, w in enumerate(weeks)])
    chart = Chart(chart_id, title, "", table, empty=not keys,
                  markers=_markers(weeks, slot, versions), x_labels=_x_labels(weeks, slot),
                  y_ticks=[(_y(f, 1), _percent(f)) for f in (0, .25, .5, .75, 1)],
                  legend=[(PALETTE[i % len(PALETTE)], labels.get(k, k)) for i, k in enumerate(keys)])
    for j, key in enumerate(keys):
        points = [(round(LEFT + slot * (i + 0.5), 1), _y(v, 1),
                   _point_title(weeks[i], labels.get(key, key), _percent(v)))
                  for i, v in enumerate(series[key]) if v is not None]
        chart.lines.append(Line(" ".join(f"{x},{y}" for x, y, _title in points),
                                PALETTE[j % len(PALETTE)], labels.get(key, key), tuple(points)))
    chart.summary = empty_sentence if chart.empty else _(
        "%(rates)s (latest week with choices).",
        rates="; ".join(f"{labels.get(k, k)}: {_last(series[k])}" for k in keys))
    return chart


def _last(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return _percent(known[-1]) if known else _("no choices")


def ranked_bars(chart_id: str, title: str, items: Sequence[tuple[str, int, bool]], *,
                value_label: str, empty_sentence: str, flag_label: str = "",
                limit: int = 15) -> Chart:
    """Horizontal bars, largest first: (label, value, flagged); flagged bars are drawn in red.

    Only the ``limit`` largest (and every flagged one) are drawn; the table has them all.
    """
    everything = list(items)
    drawn = [item for i, item in enumerate(everything) if i < limit or item[2]]
    items = drawn
    row_h = 22
    height = TOP + max(1, len(items)) * row_h + 8
    top = _nice_max(max((v for _name, v, _flag in items), default=0))
    label_w = 180
    plot_w = WIDTH - label_w - RIGHT - 90  # room for "123 ⚑ flagged"
    table = Table(title, [_("Name"), value_label] + ([flag_label] if flag_label else []),
                  [[name, str(value)] + ([_("yes") if flagged else ""] if flag_label else [])
                   for name, value, flagged in everything])
    chart = Chart(chart_id, title, "", table, empty=not any(v for _name, v, _flag in items),
                  kind="ranked", height=height, left=label_w, baseline=height - 8)
    for i, (name, value, flagged) in enumerate(items):
        y = TOP + i * row_h
        chart.bars.append(Rect(label_w, y, round(plot_w * value / top, 1), row_h - 6,
                               "#D55E00" if flagged else PALETTE[0],
                               _("%(name)s: %(value)s (flagged)", name=name, value=value)
                               if flagged else f"{name}: {value}",
                               _("%(value)s ⚑ flagged", value=value) if flagged else str(value)))
        chart.x_labels.append((y + row_h / 2, name[:28]))
    if chart.empty:
        chart.summary = empty_sentence
    elif len(items) < len(everything):
        chart.summary = _("%(all)s in all (the %(drawn)s largest drawn); most: %(name)s "
                          "(%(value)s).", all=len(everything), drawn=len(items),
                          name=items[0][0], value=items[0][1])
    else:
        chart.summary = _("%(all)s in all; most: %(name)s (%(value)s).", all=len(everything),
                          name=items[0][0], value=items[0][1])
    return chart
