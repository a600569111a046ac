"""Pinhole camera over a flat ground: world X right, Y up, Z forward (metres), camera at
(0, height, 0) pitched down by ``tilt_deg``.

>>> cam = Camera(320, 240, height_m=6.0, tilt_deg=25.0, hfov_deg=60.0)
>>> uv, depth = cam.project([[0.0, 0.0, 6.0 / np.tan(np.radians(25.0))]])
>>> [round(float(x), 1) for x in uv[0]]
[160.0, 120.0]
>>> [round(float(x), 1) for x in cam.ground_from_pixel(160.0, 120.0)]
[0.0, 12.9]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    height_m: float
    tilt_deg: float
    hfov_deg: float

    @property
    def focal(self) -> float:
        return self._f

    @property
    def position(self) -> np.ndarray:
        return np.array([0.0, self.height_m, 0.0])

    def __post_init__(self) -> None:
        t = np.radians(self.tilt_deg)
        # cached view axes: forward along the optical axis, down along image rows
        object.__setattr__(self, "_forward", np.array([0.0, -np.sin(t), np.cos(t)]))
        object.__setattr__(self, "_down", np.array([0.0, -np.cos(t), -np.sin(t)]))
        object.__setattr__(self, "_f", 0.5 * self.width / np.tan(np.radians(self.hfov_deg) / 2))

    def _axes(self) -> tuple[np.ndarray, np.ndarray]:
        return self._forward, self._down

    def project(self, points: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel coordinates (N, 2) and depth along the view axis (N,)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        rel = p - self.position
        depth = rel @ self._forward
        safe = np.maximum(depth, 1e-3)
        uv = np.empty((len(p), 2))
        uv[:, 0] = self.width / 2 + self._f * rel[:, 0] / safe
        uv[:, 1] = self.height / 2 + self._f * (rel @ self._down) / safe
        return uv, depth

    def project_point(self, x: float, y: float, z: float) -> tuple[float, float, float]:
        """Scalar :meth:`project` for one point: (u, v, depth)."""
        fw, dn = self._forward, self._down
        ry = y - self.height_m
        depth = ry * fw[1] + z * fw[2]
        safe = max(depth, 1e-3)
        return (self.width / 2 + self._f * x / safe, self.height / 2 + self._f * (ry * dn[1] + z * dn[2]) / safe,
                depth)

    def horizon_v(self) -> float:
        """Image row of the horizon (may be negative when the camera looks steeply down)."""
        return self.height / 2 - self.focal * np.tan(np.radians(self.tilt_deg))

    def ground_from_pixel(self, u: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Ground point (X, Z) seen at pixel (u, v); NaN above the horizon."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        forward, down = self._axes()
        f = self.focal
        du, dv = (u - self.width / 2) / f, (v - self.height / 2) / f
        dy = forward[1] + dv * down[1]
        dz = forward[2] + dv * down[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dy < -1e-9, -self.height_m / dy, np.nan)
        return t * du, t * dz

    def ground_depth(self, z: ArrayLike) -> np.ndarray:
        """View-axis depth of ground points at distance ``z``."""
        t = np.radians(self.tilt_deg)
        return self.height_m * np.sin(t) + np.asarray(z) * np.cos(t)

    def scale(self, depth: ArrayLike) -> np.ndarray:
        """Pixels per metre at ``depth``."""
        return self.focal / np.maximum(np.asarray(depth, dtype=np.float64), 1e-3)

    def to_dict(self) -> dict:
        return {"height_m": round(self.height_m, 2), "tilt_deg": round(self.tilt_deg, 1),
                "hfov_deg": round(self.hfov_deg, 1)}
