"""The digest's PNGs: valid images of a phone-friendly size, cells in the level colours."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime
from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from est.charts import hotspot_figure, matrix_figure, render_hotspots, render_level_matrix
from est.digest import HotspotBar, LevelChange, LevelMatrix, MatrixCell, level_matrix
from est.levels import Level

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def _matrix(config) -> LevelMatrix:
    tz = config.tz
    changes = [
        LevelChange("vivalla", Level.GUL, datetime(2026, 11, 18, 10, tzinfo=tz)),
        LevelChange("vivalla", Level.ROD, datetime(2026, 11, 24, 22, tzinfo=tz)),
        LevelChange("varberga", Level.ORANGE, datetime(2026, 10, 31, 12, tzinfo=tz)),
        LevelChange("varberga", Level.GRON, datetime(2026, 11, 12, 9, tzinfo=tz)),
    ]
    return level_matrix(config, changes, [], NOW)


def _pixel(png: bytes, x: float, y: float) -> tuple[float, float, float]:
    """The RGB at display coordinates (origin bottom left, as matplotlib gives them)."""
    image = imread(BytesIO(png))
    height = image.shape[0]
    return tuple(float(v) for v in image[height - 1 - round(y), round(x)][:3])


def _close(rgb: tuple[float, ...], hex_colour: str) -> bool:
    return all(abs(a - b) < 0.02 for a, b in zip(rgb, to_rgb(hex_colour), strict=True))


def test_level_matrix_png_is_a_phone_sized_png(config):
    png = render_level_matrix(_matrix(config), "Lägesbild vecka för vecka – Örebro kommun",
                              "Färg = högsta läge under veckan")
    width, height = png_size(png)
    assert 900 <= width <= 1200 and 700 <= height <= 1300
    assert 20_000 < len(png) < 400_000


def test_matrix_cells_are_painted_in_the_colour_of_the_level_held(config):
    matrix = _matrix(config)
    figure = matrix_figure(matrix, "Titel")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    ax = figure.axes[0]
    buffer = BytesIO()
    canvas.print_png(buffer)
    png = buffer.getvalue()

    def cell_colour(area_key: str, week: date) -> tuple[float, float, float]:
        row, column = matrix.area_keys.index(area_key), matrix.week_starts.index(week)
        # A corner of the cell, away from the number in its middle.
        x, y = ax.transData.transform((column + 0.15, row + 0.2))
        return _pixel(png, x, y)

    v48, v47, v45 = date(2026, 11, 23), date(2026, 11, 16), date(2026, 11, 2)
    assert matrix.cell("vivalla", v48).level == Level.ROD
    assert _close(cell_colour("vivalla", v48), Level.ROD.colour)
    assert _close(cell_colour("vivalla", v47), Level.GUL.colour)
    assert _close(cell_colour("varberga", v45), Level.ORANGE.colour)
    assert _close(cell_colour("oxhagen", v48), Level.GRON.colour)


def test_matrix_shows_counts_and_week_labels(config):
    matrix = LevelMatrix(
        area_keys=["a"], area_names=["Ett område med ett mycket långt namn"],
        week_starts=[date(2026, 11, 16), date(2026, 11, 23)], week_numbers=[47, 48],
        cells=[[MatrixCell(Level.GUL, 7), MatrixCell(Level.GRON, 0)]])
    figure = matrix_figure(matrix, "Titel")
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ["7", "0"]
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["v. 47", "v. 48\nnu"]
    assert matrix.week_labels == ["v. 47", "v. 48"]  # the figure does not change the data
    assert png_size(render_level_matrix(matrix, "Titel"))[0] > 900


def test_hotspot_chart_has_one_bar_per_place_strongest_first():
    bars = [HotspotBar("Vivallaskolan (Vivalla)", 18.5, 6, Level.ROD.colour),
            HotspotBar("Stortorget (Centrum)", 5.0, 2, Level.GRON.colour)]
    figure = hotspot_figure(bars, "Hotspots senaste 7 dygnen")
    ax = figure.axes[0]
    assert [p.get_width() for p in ax.patches] == [18.5, 5.0]
    labels = [t.get_text() for t in ax.texts]
    assert "Vivallaskolan (Vivalla)" in labels and "18,5 (6 rapporter)" in labels
    png = render_hotspots(bars, "Hotspots senaste 7 dygnen", "Viktad poäng per plats")
    width, height = png_size(png)
    assert 900 <= width <= 1200 and 300 <= height <= 1000


def test_hotspot_chart_without_hotspots_says_so():
    figure = hotspot_figure([], "Hotspots")
    assert "Inga hotspots denna vecka" in [t.get_text() for t in figure.axes[0].texts]
    assert png_size(render_hotspots([], "Hotspots"))[0] > 900


def test_many_hotspots_stay_legible():
    bars = [HotspotBar(f"Plats {i} (Område)", 30 - i, 3, Level.GUL.colour) for i in range(12)]
    width, height = png_size(render_hotspots(bars, "Hotspots"))
    assert height / len(bars) >= 100  # at least 100 px per bar before Telegram scales it
    assert width < 1200
