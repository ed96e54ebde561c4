"""Bar charts of the comparison: PNGs under benchmarks/results/, copied to
docs/assets/benchmarks/ for the documentation site.

    .venv/bin/python -m benchmarks.compare.charts      # from the latest http.json / inprocess.json

- `http-ratio.png`: requests per second over HTTP as a share of the floor's (higher is
  better; the floor is 1);
- `http-cpu-ratio.png`: the server process's CPU time per request over HTTP, the floor's
  divided by each contestant's (higher is better; the floor is 1);
- `inprocess-ratio.png`: time per request in process as a multiple of the floor's
  (lower is better; the floor is 1).

matplotlib draws them with its Agg backend (files only, no display).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.compare.scenarios import CONTESTANTS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOCS_ASSETS = ROOT / "docs" / "assets" / "benchmarks"
# The raw ASGI callable: 1 on both charts, so not drawn (a dashed line marks it).
FLOOR = next(c.name for c in CONTESTANTS if c.floor)

__all__ = ["bar_chart", "main", "write_charts"]

Figures = Mapping[str, Mapping[str, float]]  # scenario -> contestant -> value


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(
            "the charts need matplotlib: pip install matplotlib "
            "(or, in a checkout of bare, pip install '.[bench]')"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _patches() -> Any:
    import matplotlib.patches

    return matplotlib.patches


def bar_chart(
    figures: Figures,
    contestants: Sequence[str],
    title: str,
    ylabel: str,
    path: Path,
    reference: float | None = 1.0,
    log: bool = False,
) -> Path:
    """One group of bars per scenario, one bar per contestant that took part in it (in
    `contestants` order, each contestant in one colour throughout), each labelled with its
    value; a dashed line at `reference`; a log scale with `log`. Written to `path` (PNG)."""
    plt = _pyplot()
    scenarios = list(figures)
    shown = [c for c in contestants if any(c in figures[s] for s in scenarios)]
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(12.0, 5.2))
    for j, scenario in enumerate(scenarios):
        present = [c for c in shown if c in figures[scenario]]
        width = 0.84 / max(len(present), 1)
        for i, contestant in enumerate(present):
            value = figures[scenario][contestant]
            bars = ax.bar(
                j + (i - (len(present) - 1) / 2) * width,
                value,
                width,
                color=colours(shown.index(contestant) % 10),
            )
            ax.bar_label(bars, labels=[f"{value:.2f}"], fontsize=6.5, rotation=90, padding=2)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=0.8)
    if log:
        ax.set_yscale("log")
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.18)
    patches = _patches()
    legend = [patches.Patch(color=colours(i % 10), label=c) for i, c in enumerate(shown)]
    ax.legend(handles=legend, fontsize=8, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.07))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _http_figures(
    document: Mapping[str, Any], key: str = "ratio"
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """One of the ratios to the floor (`ratio`, `cpu_ratio`) per scenario, without the
    floor itself (always 1)."""
    figures = {
        scenario: {
            name: values[key]
            for name, values in by_contestant.items()
            if name != document["floor"] and key in values
        }
        for scenario, by_contestant in document["summary"].items()
    }
    return figures, [c for c in document["contestants"] if c != document["floor"]]


def _inprocess_figures(
    document: Mapping[str, Any],
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Time per request as a multiple of the floor's, from inprocess.json's results
    (contestant -> scenario -> {"ns", "ratio", ...}), regrouped by scenario."""
    figures: dict[str, dict[str, float]] = {}
    order: list[str] = []
    for name, by_scenario in document["results"].items():
        if name == FLOOR:
            continue
        order.append(name)
        for scenario, values in by_scenario.items():
            if values.get("ratio") is not None:
                figures.setdefault(scenario, {})[name] = float(values["ratio"])
    return figures, order


def write_charts(results: Path = RESULTS, docs_assets: Path | None = DOCS_ASSETS) -> list[Path]:
    """The charts of the results found under `results`, each also copied to `docs_assets`."""
    written = []
    http = results / "http.json"
    if http.exists():
        document = json.loads(http.read_text())
        figures, order = _http_figures(document)
        written.append(
            bar_chart(
                figures,
                order,
                "Over HTTP (uvicorn + wrk): requests/s as a share of the raw ASGI floor",
                "share of the floor's requests/s (higher is better)",
                results / "http-ratio.png",
            )
        )
        figures, order = _http_figures(document, "cpu_ratio")
        written.append(
            bar_chart(
                figures,
                order,
                "Over HTTP: the floor's server CPU time per request over each contestant's",
                "floor's CPU µs per request / contestant's (higher is better)",
                results / "http-cpu-ratio.png",
            )
        )
    inprocess = results / "inprocess.json"
    if inprocess.exists():
        figures, order = _inprocess_figures(json.loads(inprocess.read_text()))
        written.append(
            bar_chart(
                figures,
                order,
                "In process: time per request as a multiple of the raw ASGI floor's",
                "multiple of the floor's time, log scale (lower is better)",
                results / "inprocess-ratio.png",
                log=True,
            )
        )
    if docs_assets is not None:
        docs_assets.mkdir(parents=True, exist_ok=True)
        for path in written:
            shutil.copyfile(path, docs_assets / path.name)
    return written


def main() -> int:
    written = write_charts()
    if not written:
        print(f"no http.json or inprocess.json under {RESULTS}: nothing to draw", file=sys.stderr)
        return 1
    for path in written:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
