"""PNG plots of the evaluation curves (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from tvau_ros.metrics.regions import RegionTrackResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure() -> tuple[ModuleType, Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.0), dpi=100)
    return plt, fig, ax


def _save(plt: ModuleType, fig: Figure, ax: Axes, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_frame_roc(fpr: np.ndarray, tpr: np.ndarray, path: Path, auc: float | None) -> Path:
    """Frame-level (micro) ROC curve."""
    plt, fig, ax = _figure()
    ax.plot(fpr, tpr, "-", lw=1.5)
    ax.plot([0, 1], [0, 1], ":", color="gray", lw=1)
    title = "Frame ROC" if auc is None else f"Frame ROC (micro AUC {auc:.1f}%)"
    return _save(plt, fig, ax, path, "false positive rate", "true positive rate", title)


def plot_region_curves(result: RegionTrackResult, out_dir: Path) -> dict[str, Path]:
    """RBDR and TBDR against false positives per frame, as integrated by RBDC/TBDC."""
    written = {}
    for key, rate, area in (("rbdr", result.rbdr, result.rbdc), ("tbdr", result.tbdr, result.tbdc)):
        plt, fig, ax = _figure()
        ax.plot(result.fpr, rate, "-", lw=1.5)
        note = "" if result.reached_fpr_1 else ", flat past last detection"
        written[key] = _save(plt, fig, ax, Path(out_dir) / f"{key}.png",
                             "false positives per frame", key.upper(),
                             f"{key.upper()} ({key[0].upper()}BDC {area:.1f}%{note})")
    return written
