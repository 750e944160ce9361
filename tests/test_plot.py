"""Pictures of the decision regions (the ``plot`` command of the README and docs/trace.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import netbound
from netbound import MissingExtraError, NetboundError, Network, OptionError
from netbound.plot import PlotInfo, plot, plot_network

pytest.importorskip("matplotlib")

from matplotlib import rc_context
from matplotlib.image import imread

K = 4.0
BUMP = Network.from_layers(
    [
        ([[K, 0], [-K, 0], [0, K], [0, -K]], [K, K, K, K], "sigmoid"),
        ([[1, 1, 1, 1]], [-3.5], "sigmoid"),
    ],
    input_names=["age", "income"],
    output_names=["approved"],
)
ANGLES = np.array([0.0, 2.1, 4.0])
THREE_CLASSES = Network.from_layers(
    [(np.c_[np.cos(ANGLES), np.sin(ANGLES)], [0.3, 0.0, 0.0], "identity")],
    output_names=["cat", "dog", "bird"],
)


def _check_region_colours(info: PlotInfo, points: np.ndarray, classes: np.ndarray) -> int:
    """Each point far from the boundary has its region's colour in the PNG; returns how many
    points were checked."""
    image = imread(info.path)
    assert image.shape[:2] == (info.height, info.width)
    drawn = [
        np.array([info.pixel(float(x), float(y)) for x, y in c.points]) for c in info.trace.curves
    ]
    checked = 0
    for (x1, x2), cls in zip(points, classes, strict=True):
        row, col = info.pixel(float(x1), float(x2))
        if drawn and min(float(np.min(np.hypot(*(d - (row, col)).T))) for d in drawn) < 6.0:
            continue
        rgb = image[int(row), int(col), :3]
        np.testing.assert_allclose(rgb, info.colors[cls], atol=1.5 / 255)
        checked += 1
    return checked


def _sample(box: tuple[float, float, float, float], n: int = 15) -> np.ndarray:
    x1lo, x1hi, x2lo, x2hi = box
    u = np.linspace(0.04, 0.96, n)
    gx, gy = np.meshgrid(x1lo + u * (x1hi - x1lo), x2lo + u * (x2hi - x2lo))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def test_threshold_regions_have_their_colours(tmp_path: Path) -> None:
    box = (-2.0, 2.5, -2.0, 2.0)
    info = plot_network(BUMP, tmp_path / "bump.png", box=box, dpi=80)
    assert info.format == "png"
    assert info.labels == ("approved > 0.5", "approved < 0.5")
    assert info.box == box
    assert len(info.trace.curves) == 1
    assert info.trace.curves[0].closed
    points = _sample(box)
    classes = np.where(netbound.margin_threshold(BUMP).value(points) > 0.0, 0, 1)
    assert set(classes) == {0, 1}
    assert _check_region_colours(info, points, classes) > 150
    # The boundary is drawn on top, in black.
    image = imread(info.path)
    for x1, x2 in info.trace.curves[0].points[::10]:
        row, col = info.pixel(float(x1), float(x2))
        patch = image[int(row) - 1 : int(row) + 2, int(col) - 1 : int(col) + 2, :3]
        assert float(np.min(patch)) < 0.35


def test_argmax_regions_have_their_colours(tmp_path: Path) -> None:
    box = (-2.0, 2.0, -2.0, 2.0)
    info = plot_network(THREE_CLASSES, tmp_path / "three.png", box=box)
    assert info.labels == ("cat", "dog", "bird")
    assert len(set(info.colors)) == 3
    # Three or more outputs: the default boundary is between predicted classes.
    assert sorted(c.between for c in info.trace.curves if c.between) == [
        ("cat", "bird"),
        ("cat", "dog"),
        ("dog", "bird"),
    ]
    points = _sample(box)
    classes = np.argmax(THREE_CLASSES.preactivations(points), axis=1)
    assert set(classes) == {0, 1, 2}
    assert _check_region_colours(info, points, classes) > 150


def test_a_pair_shows_every_output_region(tmp_path: Path) -> None:
    box = (-2.0, 2.0, -2.0, 2.0)
    info = plot_network(THREE_CLASSES, tmp_path / "pair.png", box=box, between=("cat", "dog"))
    assert info.labels == ("cat", "dog", "bird")
    assert all(c.between == ("cat", "dog") for c in info.trace.curves)
    points = _sample(box)
    classes = np.argmax(THREE_CLASSES.preactivations(points), axis=1)
    assert _check_region_colours(info, points, classes) > 100


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".PDF", b"%PDF")])
def test_formats_by_suffix(tmp_path: Path, suffix: str, magic: bytes) -> None:
    info = plot_network(BUMP, tmp_path / f"bump{suffix}", resolution=50)
    assert info.format == suffix.lower().lstrip(".")
    assert info.path.read_bytes().startswith(magic)


def test_svg_names_axes_legend_and_title(tmp_path: Path) -> None:
    with rc_context({"svg.fonttype": "none"}):
        info = plot_network(BUMP, tmp_path / "bump.svg", resolution=50)
    text = info.path.read_text()
    assert "<svg" in text
    for name in ("age", "income", "approved &gt; 0.5", "approved &lt; 0.5", "boundary"):
        assert name in text
    assert "network: boundary approved = 0.5" in text


def test_default_box_shows_the_whole_loop(tmp_path: Path) -> None:
    info = plot_network(BUMP, tmp_path / "bump.png", resolution=50)
    x1lo, x1hi, x2lo, x2hi = info.box
    assert -2.0 < x1lo < -1.0 < 1.0 < x1hi < 2.0
    assert -2.0 < x2lo < -1.0 < 1.0 < x2hi < 2.0
    assert len(info.trace.curves) == 1
    assert info.trace.curves[0].closed


def test_plot_a_margin(tmp_path: Path) -> None:
    margin = netbound.margin_between(THREE_CLASSES, "cat", "bird")
    info = plot(margin, tmp_path / "m.png", box=(-2.0, 2.0, -2.0, 2.0), resolution=100)
    assert info.labels == ("cat > bird", "cat < bird")
    points = _sample(info.box)
    classes = np.where(margin.value(points) > 0.0, 0, 1)
    assert _check_region_colours(info, points, classes) > 100
    network = plot(BUMP, tmp_path / "n.png", resolution=50)
    assert network.labels == ("approved > 0.5", "approved < 0.5")


def test_unsupported_suffix_names_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"\.png, \.svg, \.pdf") as err:
        plot_network(BUMP, tmp_path / "bump.jpg")
    assert "bump.jpg" in str(err.value)
    with pytest.raises(OptionError, match=r"\.png, \.svg, \.pdf"):
        plot_network(BUMP, tmp_path / "bump")
    assert not list(tmp_path.iterdir())


def test_unwritable_file(tmp_path: Path) -> None:
    with pytest.raises(NetboundError, match="cannot write"):
        plot_network(BUMP, tmp_path / "missing" / "bump.png", resolution=20)


def test_option_errors(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"between=\(.*\): needs two outputs"):
        plot_network(BUMP, tmp_path / "x.png", between=("approved", "approved"))
    with pytest.raises(OptionError, match="unknown output"):
        plot_network(THREE_CLASSES, tmp_path / "x.png", between=("cat", "cow"))
    with pytest.raises(OptionError, match="resolution"):
        plot_network(BUMP, tmp_path / "x.png", resolution=1)


def test_missing_matplotlib_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError) as err:
        plot_network(BUMP, tmp_path / "bump.png")
    message = str(err.value)
    assert "pip install 'netbound[plot]'" in message
    assert "\n" not in message
    assert not list(tmp_path.iterdir())


def _tiny_island(width: float, names: list[str] | None = None) -> Network:
    k = 40.0 / width
    h = width / 2
    return Network.from_layers(
        [
            (
                [[k, 0], [-k, 0], [0, k], [0, -k]],
                [-k * (0.3 - h), k * (0.3 + h), -k * (0.7 - h), k * (0.7 + h)],
                "sigmoid",
            ),
            ([[1, 1, 1, 1]], [-3.5], "sigmoid"),
        ],
        output_names=names,
    )


def test_a_tiny_loop_is_a_marker_and_the_legend_says_so(tmp_path: Path) -> None:
    with rc_context({"svg.fonttype": "none"}):
        info = plot_network(
            _tiny_island(2e-4), tmp_path / "island.svg", box=(-10, 10, -10, 10), resolution=50
        )
    assert info.trace.complete
    assert [c.closed for c in info.trace.curves] == [True]
    text = info.path.read_text()
    assert "boundary &lt; 3 px (not to scale)" in text
    assert "picture complete" in text
    assert "unresolved" not in text


def test_unresolved_cells_are_hatched_and_the_legend_says_not_complete(tmp_path: Path) -> None:
    # A margin that touches zero along a whole line: nothing there can be proven.
    net = Network.from_layers(
        [
            ([[1.0, 0.37], [-1.0, -0.37]], [0.6, -0.6], "softplus"),
            ([[1.0, 1.0]], [-2.0 * np.log(2.0)], "identity"),
        ]
    )
    with rc_context({"svg.fonttype": "none"}):
        info = plot_network(net, tmp_path / "touch.svg", box=(-2, 1, -1, 1), resolution=50)
    text = info.path.read_text()
    if info.trace.complete:
        pytest.skip("the touching line was resolved")
    assert info.trace.unresolved
    assert "picture NOT complete" in text
    assert "unresolved" in text
    assert "hatch" in text or "pattern" in text


def test_names_without_glyphs_do_not_warn(tmp_path: Path) -> None:
    import warnings

    net = _tiny_island(0.5, names=["\u7c7b\u7532"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_network(net, tmp_path / "glyphs.png", box=(-1, 1, -1, 1), resolution=20)
    assert [str(w.message) for w in caught] == []


def test_axes_choose_the_pictures_inputs(tmp_path: Path) -> None:
    box = (-2.0, 2.0, -1.5, 1.5)
    straight = plot_network(BUMP, tmp_path / "a.png", box=box, resolution=20)
    swapped = plot_network(BUMP, tmp_path / "b.png", box=box, resolution=20, axes=(1, 0))
    assert [c.closed for c in swapped.trace.curves] == [True]
    # The bump is symmetric in its two inputs: the same loop, coordinates swapped.
    a = straight.trace.curves[0].points
    b = swapped.trace.curves[0].points
    np.testing.assert_allclose(np.ptp(a, axis=0), np.ptp(b, axis=0), rtol=1e-6)


def test_argmin_regions_have_their_colours_and_the_title_says_so(tmp_path: Path) -> None:
    box = (-2.0, 2.0, -2.0, 2.0)
    with rc_context({"svg.fonttype": "none"}):
        svg = plot_network(THREE_CLASSES, tmp_path / "low.svg", box=box, decision="argmin")
    assert "network: boundary argmin of cat, dog, bird" in svg.path.read_text()
    info = plot_network(THREE_CLASSES, tmp_path / "low.png", box=box, decision="argmin")
    assert info.labels == ("cat", "dog", "bird")
    points = _sample(box)
    classes = np.argmin(THREE_CLASSES.preactivations(points), axis=1)
    assert set(classes) == {0, 1, 2}
    assert _check_region_colours(info, points, classes) > 150


def test_axes_are_named_after_the_chosen_inputs(tmp_path: Path) -> None:
    with rc_context({"svg.fonttype": "none"}):
        info = plot_network(
            BUMP, tmp_path / "swapped.svg", solve_for="income", sweep="age", resolution=50
        )
    text = info.path.read_text()
    assert text.index(">income<") < text.index(">age<")  # x label first
    assert info.trace.curves[0].closed
