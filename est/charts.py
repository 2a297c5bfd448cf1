"""The digest's pictures as PNG bytes: pure functions from data to image.

People at the meeting would rather look than read, and most of them look on a phone:
the figures are narrow (7 inches at 150 dpi, about 1050 pixels) with large type, so a
photo-sized preview in Telegram stays readable without zooming.

Only matplotlib's object-oriented API and the Agg canvas are used (never pyplot), so
rendering needs no display and is safe in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from est.digest import HotspotBar, LevelMatrix
from est.levels import Level

DPI = 150
WIDTH_IN = 7.0
FONT = "DejaVu Sans"  # bundled with matplotlib, has å, ä and ö
INK = "#1d1d1f"
MUTED = "#5f6368"
# Text on a level colour: dark on the light colours, white on the dark ones.
_TEXT_ON = {Level.GRON: "white", Level.GUL: INK, Level.ROD: "white", Level.ORANGE: INK}
_LEGEND_ORDER = (Level.GRON, Level.GUL, Level.ROD, Level.ORANGE)


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def matrix_figure(matrix: LevelMatrix, title: str, subtitle: str | None = None) -> Figure:
    """Areas as rows, weeks as columns; colour = highest level, number = problem reports."""
    rows, columns = len(matrix.area_names), len(matrix.week_starts)
    height = 2.45 + 0.62 * rows
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    # Fixed margins (in inches, turned into fractions) so the grid has a known place.
    left, right, top, bottom = 1.85, 0.15, 1.2, 1.05
    ax = figure.add_axes((left / WIDTH_IN, bottom / height,
                          1 - (left + right) / WIDTH_IN, 1 - (top + bottom) / height))
    ax.set_xlim(0, columns)
    ax.set_ylim(rows, 0)
    for row, cells in enumerate(matrix.cells):
        for column, cell in enumerate(cells):
            ax.add_patch(Rectangle((column, row), 1, 1, facecolor=cell.level.colour,
                                   edgecolor="white", linewidth=2.5))
            ax.text(column + 0.5, row + 0.52, str(cell.reports), ha="center", va="center",
                    fontsize=15, fontweight="bold", color=_TEXT_ON[cell.level], family=FONT)
    # The current (last) week is still running: frame it.
    ax.add_patch(Rectangle((columns - 1, 0), 1, rows, fill=False, edgecolor=INK,
                           linewidth=2.5, clip_on=False))
    ax.set_xticks([c + 0.5 for c in range(columns)])
    labels = matrix.week_labels
    labels[-1] = f"{labels[-1]}\nnu"
    ax.set_xticklabels(labels, fontsize=13, family=FONT, color=INK)
    ax.xaxis.tick_top()
    ax.set_yticks([r + 0.5 for r in range(rows)])
    ax.set_yticklabels([_short(n, 16) for n in matrix.area_names], fontsize=14,
                       family=FONT, color=INK)
    ax.tick_params(length=0, pad=6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    figure.text(0.5, 1 - 0.2 / height, title, ha="center", va="top", fontsize=16,
                fontweight="bold", family=FONT, color=INK)
    if subtitle:
        figure.text(0.5, 1 - 0.52 / height, subtitle, ha="center", va="top", fontsize=12,
                    family=FONT, color=MUTED)
    handles = [Patch(facecolor=level.colour, edgecolor="none", label=level.display_name)
               for level in _LEGEND_ORDER]
    figure.legend(handles=handles, loc="lower center", ncol=2, frameon=False,
                  fontsize=12, bbox_to_anchor=(0.5, 0.02), handlelength=1.6,
                  columnspacing=1.8, prop={"family": FONT, "size": 12})
    figure.text(0.5, 0.02 + 0.72 / height, "Siffra = antal problemrapporter under veckan",
                ha="center", va="bottom", fontsize=12, family=FONT, color=MUTED)
    return figure


def render_level_matrix(matrix: LevelMatrix, title: str, subtitle: str | None = None) -> bytes:
    """The weekly model of the lägesbild as a PNG."""
    return _png(matrix_figure(matrix, title, subtitle))


def _sv(value: float) -> str:
    return f"{value:.1f}".replace(".", ",").removesuffix(",0")


def hotspot_figure(bars: list[HotspotBar], title: str, subtitle: str | None = None) -> Figure:
    """Horizontal bars, strongest on top; each place's name sits above its bar."""
    count = max(len(bars), 1)
    height = 1.6 + 0.78 * count
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    left, right, top, bottom = 0.3, 0.3, 1.0, 0.55
    ax = figure.add_axes((left / WIDTH_IN, bottom / height,
                          1 - (left + right) / WIDTH_IN, 1 - (top + bottom) / height))
    top_value = max([b.weighted for b in bars] + [1.0])
    ax.set_xlim(0, top_value * 1.5)
    ax.set_ylim(count - 0.1, -0.75)
    for row, bar in enumerate(bars):
        ax.barh(row + 0.12, bar.weighted, height=0.42, color=bar.colour, edgecolor="none")
        ax.text(0, row - 0.3, _short(bar.label, 44), ha="left", va="center", fontsize=13,
                family=FONT, color=INK)
        noun = "rapport" if bar.count == 1 else "rapporter"
        ax.text(bar.weighted + top_value * 0.02, row + 0.12,
                f"{_sv(bar.weighted)} ({bar.count} {noun})", ha="left", va="center",
                fontsize=12, family=FONT, color=INK)
    if not bars:
        ax.text(top_value * 0.75, 0.1, "Inga hotspots denna vecka", ha="center",
                va="center", fontsize=15, family=FONT, color=MUTED)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=11, colors=MUTED)
    for name in ("top", "right", "left"):
        ax.spines[name].set_visible(False)
    ax.spines["bottom"].set_color(MUTED)
    figure.text(0.5, 1 - 0.2 / height, title, ha="center", va="top", fontsize=16,
                fontweight="bold", family=FONT, color=INK)
    if subtitle:
        figure.text(0.5, 1 - 0.52 / height, subtitle, ha="center", va="top", fontsize=12,
                    family=FONT, color=MUTED)
    return figure


def render_hotspots(bars: list[HotspotBar], title: str, subtitle: str | None = None) -> bytes:
    """This week's hotspots as a PNG (an explicit "Inga hotspots" picture when none)."""
    return _png(hotspot_figure(bars, title, subtitle))


__all__ = ["hotspot_figure", "matrix_figure", "render_hotspots", "render_level_matrix"]
