"""The real-footage check set: composited anomalies with exact masks on the usable first
400 frames of OpenCV's vtest.avi (``tvau data realcheck``; see docs/realcheck.md).

>>> from tvau_ros.data.realcheck import KINDS, LAST_USABLE_FRAME
>>> KINDS, LAST_USABLE_FRAME
(('fast_walker', 'fall', 'thrown_object', 'vehicle', 'standing_still'), 399)
"""
from __future__ import annotations

from tvau_ros.data.realcheck.build import (KINDS, BuildError, BuildOptions, build_check_set,
                                           format_summary)
from tvau_ros.data.realcheck.footage import LAST_USABLE_FRAME, FootageError, read_frames

__all__ = ["KINDS", "LAST_USABLE_FRAME", "BuildError", "BuildOptions", "FootageError", "build_check_set",
           "format_summary", "read_frames"]
