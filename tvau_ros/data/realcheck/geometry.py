"""The scene's scale: how tall a person is at each image row, and a ground-plane camera.

On a flat ground seen by a pinhole camera a standing person's image height grows linearly
with the row of their feet (zero at the horizon). :func:`fit_person_height` fits that line
to the foreground blobs shaped like one person; :func:`fit_camera` then finds the camera
height and tilt (for a fixed field of view) whose projection of a 1.7 m person matches
it, so vehicles can be drawn at the right size and speeds set in metres per second.

>>> line = PersonHeight(0.25, 5.0)
>>> line.at(200.0), round(line.horizon_v, 1)
(55.0, -20.0)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tvau_ros.data.synthetic.camera import Camera

PERSON_HEIGHT_M = 1.7
ASSUMED_HFOV_DEG = 55.0


class GeometryError(ValueError):
    """Too few person-shaped blobs to tell the scene's scale."""


@dataclass(frozen=True)
class PersonHeight:
    """Image height (px) of a standing person whose feet are at row ``v``: slope * v + offset."""

    slope: float
    offset: float

    def at(self, v: ArrayLike) -> np.ndarray | float:
        return self.slope * np.asarray(v, dtype=np.float64) + self.offset if np.ndim(v) else \
            float(self.slope * v + self.offset)

    @property
    def horizon_v(self) -> float:
        return -self.offset / self.slope

    def to_dict(self) -> dict:
        return {"slope": round(self.slope, 4), "offset_px": round(self.offset, 2),
                "horizon_row": round(self.horizon_v, 1)}


def fit_person_height(foot_rows: np.ndarray, heights: np.ndarray, bin_px: int = 20,
                      min_per_bin: int = 5) -> PersonHeight:
    """Line through the per-bin medians of blob height against foot row (robust to
    blobs cut by occlusion or merged with a neighbour), weighted by blobs per bin."""
    foot_rows, heights = np.asarray(foot_rows, float), np.asarray(heights, float)
    rows, meds, weights = [], [], []
    for lo in np.arange(0, foot_rows.max(initial=0) + bin_px, bin_px):
        sel = (foot_rows >= lo) & (foot_rows < lo + bin_px)
        if sel.sum() >= min_per_bin:
            rows.append(np.median(foot_rows[sel]))
            meds.append(np.median(heights[sel]))
            weights.append(np.sqrt(sel.sum()))
    if len(rows) < 2 or np.ptp(rows) < 2 * bin_px:
        raise GeometryError(f"person-shaped blobs cover {len(rows)} row band(s) of {bin_px} px; "
                            f"need people at two or more distances to tell the scene's scale")
    slope, offset = np.polyfit(rows, meds, 1, w=weights)
    if slope <= 0:
        raise GeometryError(f"people do not look taller nearer the camera (slope {slope:.3f} px/row); "
                            f"not a camera looking down on a ground plane")
    return PersonHeight(float(slope), float(offset))


def person_height_px(cam: Camera, u: ArrayLike, v: ArrayLike, height_m: float = PERSON_HEIGHT_M) -> np.ndarray:
    """Image height of a ``height_m`` person standing at pixel(s) (u, v) under ``cam``
    (0 above the horizon)."""
    u, v = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float))
    x, z = cam.ground_from_pixel(u, v)
    ok = np.isfinite(x)
    heads = np.stack([np.where(ok, x, 0.0), np.full(x.shape, height_m), np.where(ok, z, 1.0)], -1)
    uv, _ = cam.project(heads.reshape(-1, 3))
    return np.where(ok, v - uv[:, 1].reshape(v.shape), 0.0)


def _camera_error(line: PersonHeight, rows: np.ndarray, cam: Camera) -> float:
    if cam.horizon_v() >= rows[0]:
        return np.inf
    pred = person_height_px(cam, cam.width / 2, rows)
    return float(np.mean((np.log(np.maximum(pred, 1e-3)) - np.log(line.at(rows))) ** 2))


def fit_camera(line: PersonHeight, width: int, height: int,
               hfov_deg: float = ASSUMED_HFOV_DEG) -> Camera:
    """Camera height and tilt reproducing ``line`` (coarse grid, then a finer one around
    the best), for an assumed horizontal field of view.

    >>> cam = fit_camera(PersonHeight(0.26, 7.0), 768, 576)
    >>> abs(float(person_height_px(cam, 384, 400)) / PersonHeight(0.26, 7.0).at(400) - 1.0) < 0.03
    True
    """
    rows = np.linspace(max(line.horizon_v + 0.25 * height, 0.3 * height), height - 1, 8)
    best, best_err = None, np.inf
    grids = [(np.arange(2.0, 80.0, 1.0), np.arange(1.0, 40.0, 0.25))]
    for _level in range(2):
        for tilt in grids[-1][0]:
            for cam_h in grids[-1][1]:
                cam = Camera(width, height, float(cam_h), float(tilt), hfov_deg)
                err = _camera_error(line, rows, cam)
                if err < best_err:
                    best, best_err = cam, err
        if best is None:
            raise GeometryError("no camera height and tilt reproduce the person heights")
        grids.append((np.arange(best.tilt_deg - 1.0, best.tilt_deg + 1.0, 0.1),
                      np.arange(max(0.5, best.height_m - 0.5), best.height_m + 0.5, 0.02)))
    return best
