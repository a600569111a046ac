"""QoS profiles from parameter strings, with a sensor-data default for camera subscriptions.

A best-effort subscription receives from both best-effort and reliable publishers, so it is
the default for cameras (a reliable subscription gets nothing from a best-effort camera, the
most reported QoS mismatch). Outputs are published reliable, which both kinds of subscriber
(rviz, recorders, scripts) accept.
"""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
DURABILITY = {"volatile": DurabilityPolicy.VOLATILE, "transient_local": DurabilityPolicy.TRANSIENT_LOCAL}


def qos_profile(reliability: str = "best_effort", depth: int = 5, durability: str = "volatile") -> QoSProfile:
    """KEEP_LAST profile; raises ValueError naming a bad value.

    >>> qos_profile("reliable", 10).reliability == ReliabilityPolicy.RELIABLE
    True
    """
    key = str(reliability).lower().replace("-", "_")
    if key not in RELIABILITY:
        raise ValueError(f"QoS reliability must be one of {sorted(RELIABILITY)}, got {reliability!r}")
    dkey = str(durability).lower().replace("-", "_")
    if dkey not in DURABILITY:
        raise ValueError(f"QoS durability must be one of {sorted(DURABILITY)}, got {durability!r}")
    if int(depth) < 1:
        raise ValueError(f"QoS depth must be >= 1, got {depth}")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth), reliability=RELIABILITY[key],
                      durability=DURABILITY[dkey])


def sensor_qos(depth: int = 5) -> QoSProfile:
    """Best effort, keep last ``depth``: the camera default."""
    return qos_profile("best_effort", depth)
