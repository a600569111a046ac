"""Project an image point onto the ground plane: where on the floor is the anomaly?

The camera is a pinhole (``CameraIntrinsics``, from ``sensor_msgs/CameraInfo`` or from a
horizontal field of view); ``Pose`` is the pose of the camera's OPTICAL frame (z forward,
x right, y down; the frame_id of the images) in the ground frame (z up, the plane z =
``ground_z``). A region's foot point (bottom-centre of its box) is back-projected along its
viewing ray to the plane. Quaternions are ROS order (x, y, z, w); the math is transforms3d's
(what tf_transformations wraps).

>>> cam = CameraIntrinsics.from_hfov(640, 480, 90.0)
>>> pose = pose_from_height_pitch(height=2.0, pitch_deg=45.0)   # looking down at 45 degrees
>>> [round(v, 3) + 0.0 for v in project_pixel(320, 240, cam, pose)]   # the image centre hits 2 m ahead
[2.0, 0.0, 0.0]
>>> project_pixel(320, 0, cam, pose_from_height_pitch(2.0, 10.0)) is None   # above the horizon
True
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from transforms3d.euler import euler2mat
from transforms3d.quaternions import mat2quat, quat2mat

from tvau_ros.core.types import Box, GroundPoint


@dataclass(frozen=True)
class CameraIntrinsics:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = ()  # plumb_bob (k1, k2, p1, p2, k3) as in CameraInfo.d

    def __post_init__(self):
        if self.fx <= 0 or self.fy <= 0 or self.width <= 0 or self.height <= 0:
            raise ValueError(f"invalid camera intrinsics fx={self.fx} fy={self.fy} size={self.width}x{self.height}")

    @classmethod
    def from_hfov(cls, width: int, height: int, hfov_deg: float) -> CameraIntrinsics:
        if not 0.0 < hfov_deg < 180.0:
            raise ValueError(f"horizontal field of view must be in (0, 180) degrees, got {hfov_deg}")
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(f, f, width / 2.0, height / 2.0, int(width), int(height))

    @classmethod
    def from_camera_info(cls, k: Iterable[float], d: Iterable[float], width: int, height: int) -> CameraIntrinsics:
        """From CameraInfo fields: k (row-major 3x3), d (distortion), width, height."""
        k = [float(v) for v in k]
        if len(k) != 9 or k[0] == 0.0:
            raise ValueError(f"CameraInfo.k is not a calibrated 3x3 matrix: {k}")
        return cls(k[0], k[4], k[2], k[5], int(width), int(height), tuple(float(v) for v in d))

    def scaled_to(self, width: int, height: int) -> CameraIntrinsics:
        """The same camera for images resized to width x height."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height, self.distortion)

    def ray(self, u: float, v: float) -> np.ndarray:
        """Unit-less viewing ray (x, y, 1) in the optical frame through pixel (u, v)."""
        if any(self.distortion):
            import cv2

            k = np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)
            pts = cv2.undistortPoints(np.array([[[u, v]]], dtype=np.float64), k, np.array(self.distortion))
            x, y = pts[0, 0]
        else:
            x, y = (u - self.cx) / self.fx, (v - self.cy) / self.fy
        return np.array([x, y, 1.0])


@dataclass(frozen=True)
class Pose:
    """Camera optical frame in the ground frame: translation (m) and quaternion (x, y, z, w)."""

    translation: tuple[float, float, float]
    rotation: tuple[float, float, float, float]

    @classmethod
    def from_list(cls, values: Iterable[float]) -> Pose:
        """[x, y, z, qx, qy, qz, qw] (as the ``camera_pose`` parameter)."""
        values = [float(v) for v in values]
        if len(values) != 7:
            raise ValueError(f"camera pose needs 7 numbers [x, y, z, qx, qy, qz, qw], got {len(values)}")
        norm = math.sqrt(sum(q * q for q in values[3:]))
        if not math.isfinite(norm) or norm < 1e-9:
            raise ValueError(f"camera pose quaternion {values[3:]} has zero length")
        return cls(tuple(values[:3]), tuple(q / norm for q in values[3:]))

    def matrix(self) -> np.ndarray:
        x, y, z, w = self.rotation
        return quat2mat([w, x, y, z])


def pose_from_height_pitch(height: float, pitch_deg: float, x: float = 0.0, y: float = 0.0) -> Pose:
    """A camera ``height`` m above the ground looking along +x, tilted down by ``pitch_deg``."""
    # optical axes (z forward, x right, y down) expressed in a body frame (x forward, z up)
    body_from_optical = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    tilt = euler2mat(0.0, math.radians(pitch_deg), 0.0, "sxyz")  # rotation about body y
    w, qx, qy, qz = (float(q) for q in mat2quat(tilt @ body_from_optical))
    return Pose((float(x), float(y), float(height)), (qx, qy, qz, w))


def project_pixel(u: float, v: float, camera: CameraIntrinsics, pose: Pose, ground_z: float = 0.0,
                  max_range: float = math.inf) -> tuple[float, float, float] | None:
    """Ground point hit by the ray through pixel (u, v), or None (above horizon / too far)."""
    direction = pose.matrix() @ camera.ray(u, v)
    origin = np.asarray(pose.translation, dtype=np.float64)
    if abs(direction[2]) < 1e-12:
        return None
    s = (ground_z - origin[2]) / direction[2]
    if s <= 0:
        return None
    point = origin + s * direction
    if math.hypot(point[0] - origin[0], point[1] - origin[1]) > max_range:
        return None
    return float(point[0]), float(point[1]), float(ground_z)


@dataclass(frozen=True)
class GroundProjector:
    """Foot points of boxes (source-image pixels) -> ``GroundPoint`` in ``frame_id``."""

    camera: CameraIntrinsics
    pose: Pose
    frame_id: str
    ground_z: float = 0.0
    max_range: float = 100.0

    def project_box(self, box: Box, source_size: tuple[int, int]) -> GroundPoint | None:
        height, width = source_size
        camera = self.camera.scaled_to(width, height)
        u, v = box.foot_point()
        hit = project_pixel(u, v, camera, self.pose, self.ground_z, self.max_range)
        return None if hit is None else GroundPoint(*hit, frame_id=self.frame_id)
