"""Evaluation metrics of the paper, each following its reference convention (docs/metrics.md).

Frame level: ``micro_auc``, ``macro_auc`` (UBnormal padding). Localization: ``rbdc_tbdc``
(Ramachandra & Jones, WACV 2020) on ``Detection`` / ``GtRegion``, with
``heatmap_to_detections`` and ``gt_regions_from_masks`` to build them. Dialogue:
``bleu4_best_reference``, ``mean_bleu4``, ``yes_no_accuracy``, ``balanced_accuracy``.
Whole evaluations: ``tvau_ros.metrics.report``. All values are percentages.
This package never imports rclpy; sklearn, sacrebleu, cv2 and matplotlib load on first use.
"""
from tvau_ros.metrics.boxes import Box, box_iou
from tvau_ros.metrics.frame_auc import FrameScores, macro_auc, micro_auc, per_video_auc
from tvau_ros.metrics.gt_regions import GtRegionSet, gt_regions_from_masks, mask_region_box
from tvau_ros.metrics.heatmaps import heatmap_to_detections, video_heatmaps_to_detections
from tvau_ros.metrics.regions import Detection, GtRegion, RegionTrackResult, rbdc_tbdc
from tvau_ros.metrics.text import (
    BleuResult,
    BleuSettings,
    balanced_accuracy,
    bleu4_best_reference,
    mean_bleu4,
    parse_yes_no,
    yes_no_accuracy,
)

__all__ = [
    "Box", "box_iou", "FrameScores", "micro_auc", "macro_auc", "per_video_auc",
    "GtRegionSet", "gt_regions_from_masks", "mask_region_box",
    "heatmap_to_detections", "video_heatmaps_to_detections",
    "Detection", "GtRegion", "RegionTrackResult", "rbdc_tbdc",
    "BleuResult", "BleuSettings", "balanced_accuracy", "bleu4_best_reference", "mean_bleu4",
    "parse_yes_no", "yes_no_accuracy",
]
