"""Region- and track-based detection criteria (RBDC / TBDC).

Ramachandra & Jones, "Street Scene", WACV 2020, with the evaluation conventions of the
public evaluation code that UBnormal (Acsintoae et al., CVPR 2022) uses; see docs/metrics.md.

Two 5-frame videos, one constant-box track each, a correct detection on every frame:

>>> gt = [GtRegion(v, f, (0, 0, 9, 9), track=1) for v in ("a", "b") for f in range(5)]
>>> dets = [Detection(r.video, r.frame, r.box, 0.9) for r in gt]
>>> res = rbdc_tbdc(dets, gt, total_frames=10)
>>> (res.rbdc, res.tbdc, res.reached_fpr_1)
(100.0, 100.0, False)
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from tvau_ros.metrics.boxes import Box, box_iou, check_box

DEFAULT_ALPHA = 0.1
DEFAULT_BETA = 0.1


@dataclass(frozen=True)
class Detection:
    """One scored anomalous region predicted in ``frame`` (0-based) of ``video``."""

    video: str
    frame: int
    box: Box
    score: float


@dataclass(frozen=True)
class GtRegion:
    """One ground-truth region: the box of one abnormal track in one frame.

    A track is identified by ``(video, track)``; ``track`` is the object id.
    """

    video: str
    frame: int
    box: Box
    track: Hashable


@dataclass(frozen=True)
class RegionTrackResult:
    """RBDC/TBDC (percent) and the curves they integrate.

    ``fpr``, ``rbdr`` and ``tbdr`` start at (0, 0), stop at FPR 1 and include the flat
    extension to FPR 1 when the detections never reach it (``reached_fpr_1`` False).
    """

    rbdc: float
    tbdc: float
    fpr: np.ndarray
    rbdr: np.ndarray
    tbdr: np.ndarray
    reached_fpr_1: bool
    num_detections: int
    num_gt_regions: int
    num_gt_tracks: int
    total_frames: int
    true_positives: int
    false_positives: int
    duplicate_detections: int  # matched only already-matched regions: neither TP nor FP


def _check_inputs(detections: Sequence[Detection], gt_regions: Sequence[GtRegion], total_frames: int, alpha: float,
                  beta: float) -> None:
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    if total_frames <= 0:
        raise ValueError(f"total_frames must be positive, got {total_frames}")
    if not gt_regions:
        raise ValueError("no ground-truth regions: RBDC/TBDC are undefined without abnormal regions")
    for det in detections:
        if not math.isfinite(det.score):
            raise ValueError(f"detection in video {det.video!r} frame {det.frame}: score is {det.score}")
        check_box(det.box, f"detection in video {det.video!r} frame {det.frame}")
    for reg in gt_regions:
        check_box(reg.box, f"ground-truth region in video {reg.video!r} frame {reg.frame}")


def _ranked(detections: Sequence[Detection]) -> list[Detection]:
    """Highest score first; ties in (video, frame, input position) order, so that the
    result does not depend on the order videos were listed in a prediction file."""
    order = sorted(range(len(detections)),
                   key=lambda i: (-detections[i].score, detections[i].video, detections[i].frame, i))
    return [detections[i] for i in order]


def _cut_at_fpr_1(fpr: np.ndarray, *rates: np.ndarray) -> tuple[bool, np.ndarray, list[np.ndarray]]:
    """Keep points with FPR <= 1; if the last kept FPR is below 1, extend flat to FPR 1."""
    last = int(np.nonzero(fpr <= 1.0)[0][-1])  # fpr[0] == 0, so never empty
    fpr = fpr[: last + 1]
    rates = [r[: last + 1] for r in rates]
    reached = bool(fpr[-1] == 1.0)
    if not reached:
        fpr = np.append(fpr, 1.0)
        rates = [np.append(r, r[-1]) for r in rates]
    return reached, fpr, rates


def rbdc_tbdc(
    detections: Sequence[Detection],
    gt_regions: Sequence[GtRegion],
    total_frames: int,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
) -> RegionTrackResult:
    """Region- and track-based detection criteria, both in percent.

    Detections are taken one at a time by descending score. A detection whose IoU with
    not-yet-matched GT regions of its frame is >= ``beta`` matches them all (one TP per
    region); one that overlaps no GT region, or lies in a frame without GT, is one FP; one
    that overlaps only already-matched regions adds neither. A track is detected once
    >= ``alpha`` of its regions are. FPR = FP / ``total_frames`` (all test frames, normal
    videos included). Areas under RBDR(FPR) and TBDR(FPR) for FPR in [0, 1] by the
    trapezoid rule, x100.
    """
    _check_inputs(detections, gt_regions, total_frames, alpha, beta)
    regions_by_frame: dict[tuple[str, int], list[int]] = defaultdict(list)
    track_of: list[tuple[str, Hashable]] = []
    track_size: dict[tuple[str, Hashable], int] = defaultdict(int)
    for idx, reg in enumerate(gt_regions):
        regions_by_frame[(reg.video, int(reg.frame))].append(idx)
        key = (reg.video, reg.track)
        track_of.append(key)
        track_size[key] += 1

    matched = np.zeros(len(gt_regions), dtype=bool)
    matched_per_track: dict[tuple[str, Hashable], int] = defaultdict(int)
    tracks_detected = 0
    ranked = _ranked(detections)
    tp = np.zeros(len(ranked))
    fp = np.zeros(len(ranked))
    tracks_curve = np.zeros(len(ranked))
    duplicates = 0
    for i, det in enumerate(ranked):
        candidates = regions_by_frame.get((det.video, int(det.frame)), ())
        hits = [r for r in candidates if box_iou(det.box, gt_regions[r].box) >= beta]
        if not hits:
            fp[i] = 1
        else:
            new = [r for r in hits if not matched[r]]
            if not new:
                duplicates += 1
            for r in new:
                matched[r] = True
                key = track_of[r]
                before = matched_per_track[key] / track_size[key] >= alpha
                matched_per_track[key] += 1
                if not before and matched_per_track[key] / track_size[key] >= alpha:
                    tracks_detected += 1
            tp[i] = len(new)
        tracks_curve[i] = tracks_detected

    fpr = np.concatenate(([0.0], np.cumsum(fp))) / total_frames
    rbdr = np.concatenate(([0.0], np.cumsum(tp))) / len(gt_regions)
    tbdr = np.concatenate(([0.0], tracks_curve)) / len(track_size)
    reached, fpr, (rbdr, tbdr) = _cut_at_fpr_1(fpr, rbdr, tbdr)
    return RegionTrackResult(
        rbdc=100.0 * float(np.trapezoid(rbdr, fpr)),
        tbdc=100.0 * float(np.trapezoid(tbdr, fpr)),
        fpr=fpr, rbdr=rbdr, tbdr=tbdr, reached_fpr_1=reached,
        num_detections=len(ranked), num_gt_regions=len(gt_regions), num_gt_tracks=len(track_size),
        total_frames=int(total_frames), true_positives=int(tp.sum()), false_positives=int(fp.sum()),
        duplicate_detections=duplicates,
    )
