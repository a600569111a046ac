"""How many 4000x3000 frames reach a subscriber process, per camera QoS and message type.

    python scripts/qos_large_frames.py [--frames 10] [--period 0.5] [--width 4000 --height 3000]

Publishes the same synthetic frame (sensor_msgs/Image rgb8, 36 MB, or sensor_msgs/CompressedImage
JPEG) ``--frames`` times to a separate subscriber process over DDS and prints how many arrived
for each (publisher, subscriber) reliability pair. The heatmap node's camera subscription is
best effort by default (it accepts any camera); a large raw frame is split into many DDS
fragments and a best-effort reader drops the frame when one fragment is lost.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

PAIRS = [("best_effort", "best_effort"), ("reliable", "best_effort"), ("reliable", "reliable")]


def qos(reliability: str) -> object:
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    policy = ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=policy)


def subscriber(kind: str, reliability: str, seconds: float) -> None:
    import rclpy
    from sensor_msgs.msg import CompressedImage, Image

    rclpy.init()
    node = rclpy.create_node("qos_large_frames_sub")
    got = []
    node.create_subscription(CompressedImage if kind == "jpeg" else Image, "/qos_large_frames", got.append,
                             qos(reliability))
    print("READY", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(f"GOT {len(got)}", flush=True)


def frame_message(kind: str, width: int, height: int) -> object:
    import cv2
    from sensor_msgs.msg import CompressedImage, Image

    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 // width), (y * 255 // height), ((x + y) % 256)], axis=-1).astype(np.uint8)
    if kind == "jpeg":
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return CompressedImage(format="jpeg", data=data.tobytes())
    return Image(height=height, width=width, encoding="rgb8", step=width * 3, data=image.tobytes())


def measure(kind: str, pub_rel: str, sub_rel: str, frames: int, period: float, width: int, height: int) -> tuple:
    import rclpy

    sub = subprocess.Popen([sys.executable, __file__, "--subscriber", kind, sub_rel, str(frames * period + 15)],
                           stdout=subprocess.PIPE, text=True)
    for line in sub.stdout:
        if line.strip() == "READY":
            break
    rclpy.init()
    node = rclpy.create_node("qos_large_frames_pub")
    msg = frame_message(kind, width, height)
    size = len(msg.data)
    pub = node.create_publisher(type(msg), "/qos_large_frames", qos(pub_rel))
    while pub.get_subscription_count() == 0:
        rclpy.spin_once(node, timeout_sec=0.1)
    time.sleep(1.0)
    for _ in range(frames):
        pub.publish(msg)
        time.sleep(period)
    got = int(sub.communicate()[0].strip().splitlines()[-1].split()[1])
    node.destroy_node()
    rclpy.shutdown()
    return size, got


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber":
        subscriber(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--period", type=float, default=0.5, help="seconds between frames")
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args()
    for kind in ("raw", "jpeg"):
        for pub_rel, sub_rel in PAIRS:
            size, got = measure(kind, pub_rel, sub_rel, args.frames, args.period, args.width, args.height)
            print(f"{kind:4s} {args.width}x{args.height} ({size / 1e6:.1f} MB)  publisher {pub_rel:11s} "
                  f"subscriber {sub_rel:11s}: {got} of {args.frames} frames arrived", flush=True)


if __name__ == "__main__":
    main()
