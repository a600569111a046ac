"""Foot points -> ground plane, from CameraInfo or a field of view and a camera pose."""
import math

import numpy as np
import pytest

from tvau_ros.core.ground_projection import (
    CameraIntrinsics, GroundProjector, Pose, pose_from_height_pitch, project_pixel,
)
from tvau_ros.core.types import Box


def test_level_camera_sees_the_ground_below_the_horizon_only():
    pose = pose_from_height_pitch(1.0, 0.0)
    tall = CameraIntrinsics(320, 320, 320, 240, 640, 960)
    # a pixel fx below the centre looks down 45 degrees: it hits the ground 1 m ahead
    assert project_pixel(320, 560, tall, pose) == pytest.approx((1.0, 0.0, 0.0), abs=1e-9)
    assert project_pixel(320, 240, tall, pose) is None      # the horizon
    assert project_pixel(320, 100, tall, pose) is None      # the sky


def test_lateral_offset_and_camera_position():
    cam = CameraIntrinsics(100, 100, 50, 50, 100, 100)
    pose = pose_from_height_pitch(2.0, 90.0, x=3.0, y=-1.0)  # looking straight down
    # image right (+u) is the robot's right (-y); image down (+v) is backwards (-x) when pitched 90 down
    assert project_pixel(50, 50, cam, pose) == pytest.approx((3.0, -1.0, 0.0), abs=1e-9)
    assert project_pixel(100, 50, cam, pose) == pytest.approx((3.0, -2.0, 0.0), abs=1e-9)
    assert project_pixel(50, 100, cam, pose) == pytest.approx((2.0, -1.0, 0.0), abs=1e-9)


def test_pose_from_list_normalises_and_matches_transforms3d():
    pose = Pose.from_list([0, 0, 1.5, 0, 0, 0, 2.0])
    assert pose.rotation == (0.0, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(pose.matrix(), np.eye(3))
    ref = pose_from_height_pitch(1.5, 20.0)
    again = Pose.from_list([*ref.translation, *ref.rotation])
    np.testing.assert_allclose(again.matrix(), ref.matrix(), atol=1e-12)
    # optical z (forward) points along +x, tilted down by 20 degrees
    forward = ref.matrix() @ np.array([0, 0, 1.0])
    assert forward == pytest.approx([math.cos(math.radians(20)), 0, -math.sin(math.radians(20))])


@pytest.mark.parametrize("values,match", [([1, 2, 3], "7 numbers"), ([0, 0, 0, 0, 0, 0, 0], "zero length")])
def test_bad_pose(values, match):
    with pytest.raises(ValueError, match=match):
        Pose.from_list(values)


def test_camera_info_intrinsics_scale_with_the_image_and_undistort():
    cam = CameraIntrinsics.from_camera_info([200, 0, 160, 0, 200, 120, 0, 0, 1], [0.0] * 5, 320, 240)
    half = cam.scaled_to(160, 120)
    assert (half.fx, half.cx, half.cy) == (100, 80, 60)
    distorted = CameraIntrinsics.from_camera_info([200, 0, 160, 0, 200, 120, 0, 0, 1], [-0.2, 0, 0, 0, 0], 320, 240)
    ray_plain, ray_dist = cam.ray(300, 220), distorted.ray(300, 220)
    assert ray_dist[0] > ray_plain[0] > 0   # barrel distortion pulls edge pixels inwards
    with pytest.raises(ValueError, match="calibrated"):
        CameraIntrinsics.from_camera_info([0] * 9, [], 320, 240)


def test_projector_uses_box_foot_point_in_source_pixels():
    cam = CameraIntrinsics.from_hfov(320, 240, 60.0)
    projector = GroundProjector(cam, pose_from_height_pitch(1.5, 20.0), "base_link", max_range=50.0)
    near = projector.project_box(Box(150, 150, 20, 80), (240, 320))      # foot at row 230
    far = projector.project_box(Box(150, 60, 20, 70), (240, 320))        # foot at row 130
    big = projector.project_box(Box(300, 300, 40, 160), (480, 640))      # same as `near` at 2x resolution
    assert near.frame_id == "base_link" and 0 < near.x < far.x
    assert abs(near.y) < 0.05 and big.x == pytest.approx(near.x, rel=1e-6)
    assert projector.project_box(Box(150, 0, 20, 20), (240, 320)) is None  # foot above the horizon
