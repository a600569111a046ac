"""Ground-plane geometry recovered from the targets themselves (no calibration file needed).

Model: a pinhole camera with the principal point at the image centre, no roll, a horizontal
field of view of ``HFOV_DEG`` (a prior; typical surveillance lenses), pitched down by ``tilt``
at ``cam_height`` metres over flat ground. An upright person of ``PERSON_HEIGHT_M`` standing at a
foot pixel must reach up to the top pixel of their box; for each candidate tilt that fixes the
ratio person height / camera height per observation, and the tilt whose ratios agree best over
all observations of the video (different depths) wins, pulled gently towards ``TILT_PRIOR_DEG``
when the observations hardly differ in depth. Foot pixels then map to metres on the ground,
so speeds (m/s) and turn angles can be measured where the image foreshortens them.

>>> cam = GroundCamera(320, 240, focal=277.1, tilt_deg=25.0, cam_height=6.0)
>>> [round(float(x), 1) for x in cam.ground_from_pixel(160.0, 120.0)]
[0.0, 12.9]
>>> [round(float(x), 1) for x in cam.project(0.0, 0.0, 12.87)]
[160.0, 120.0]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

PERSON_HEIGHT_M = 1.70   # foot to top of the box of a standing adult
HFOV_DEG = 60.0
TILT_PRIOR_DEG = 25.0
CAM_HEIGHT_PRIOR_M = 6.0
_TILTS = np.arange(5.0, 60.01, 0.5)


@dataclass(frozen=True)
class GroundCamera:
    width: int
    height: int
    focal: float
    tilt_deg: float
    cam_height: float
    fitted: bool = False   # False: priors only (no usable upright observations)

    def project(self, x: ArrayLike, y: ArrayLike, z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (u, v) of world points (X right, Y up, Z forward; metres, ground at Y = 0)."""
        t = np.radians(self.tilt_deg)
        rel_y = np.asarray(y, float) - self.cam_height
        z = np.asarray(z, float)
        depth = -rel_y * np.sin(t) + z * np.cos(t)
        return (self.width / 2 + self.focal * np.asarray(x, float) / depth,
                self.height / 2 + self.focal * (-rel_y * np.cos(t) - z * np.sin(t)) / depth)

    def ground_from_pixel(self, u: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Ground (X right, Z forward) in metres seen at pixel (u, v); NaN at or above the horizon."""
        du = (np.asarray(u, float) - self.width / 2) / self.focal
        dv = (np.asarray(v, float) - self.height / 2) / self.focal
        t = np.radians(self.tilt_deg)
        down = dv * np.cos(t) + np.sin(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(down > 1e-6, self.cam_height / down, np.nan)
        return scale * du, scale * (np.cos(t) - dv * np.sin(t))


def height_ratios(foot_v: np.ndarray, top_v: np.ndarray, height: int, focal: float,
                  tilt_deg: float) -> np.ndarray:
    """Person height / camera height implied by each (foot row, top row) pair at ``tilt_deg``."""
    t = np.radians(tilt_deg)
    b = (np.asarray(foot_v, float) - height / 2) / focal
    a = (np.asarray(top_v, float) - height / 2) / focal
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (np.cos(t) - b * np.sin(t)) / (b * np.cos(t) + np.sin(t))   # ground distance / cam height
        ratio = 1.0 - depth * (np.sin(t) + a * np.cos(t)) / (np.cos(t) - a * np.sin(t))
        ok = (b * np.cos(t) + np.sin(t) > 1e-6) & (ratio > 0.02) & (ratio < 0.98)
    return np.where(ok, ratio, np.nan)


def estimate_camera(foot_v: ArrayLike, top_v: ArrayLike, width: int, height: int,
                    prior_weight: float = 2e-4) -> GroundCamera:
    """Fit the tilt and camera height to upright people's (foot row, box top row) pairs."""
    focal = 0.5 * width / np.tan(np.radians(HFOV_DEG) / 2)
    foot_v, top_v = np.asarray(foot_v, float), np.asarray(top_v, float)
    if len(foot_v) < 3:
        return GroundCamera(width, height, focal, TILT_PRIOR_DEG, CAM_HEIGHT_PRIOR_M)
    best = None
    for tilt in _TILTS:
        logs = np.log(height_ratios(foot_v, top_v, height, focal, tilt))
        logs = logs[np.isfinite(logs)]
        if len(logs) < 0.8 * len(foot_v):
            continue
        centre = np.median(logs)
        spread = float(np.mean(np.minimum((logs - centre) ** 2, 0.25)))  # robust to odd poses
        cost = spread + prior_weight * (tilt - TILT_PRIOR_DEG) ** 2
        if best is None or cost < best[0]:
            best = (cost, tilt, float(np.exp(centre)))
    if best is None:
        return GroundCamera(width, height, focal, TILT_PRIOR_DEG, CAM_HEIGHT_PRIOR_M)
    _, tilt, ratio = best
    return GroundCamera(width, height, focal, float(tilt), PERSON_HEIGHT_M / ratio, fitted=True)
