"""Track probe: is the behaviour in how people move over seconds, where frozen tokens miss it?

The in-type and zoom probes showed that DINOv2-S tokens of one frame pair, even of a person
enlarged 3x, do not separate abnormal from normal behaviour. This probe drops the tokens and
looks only at tracks: moving-foreground components (``zoom_probe.foreground_components``:
background = median of the previous 30 frames) followed by the package's own ``Tracker``; each
track's box history over the last second (and three seconds) gives kinematic features in units
of the person's own height (speed, its spread and peaks, straightness, box shape and its
changes, size against the video's other tracks at that image row, time in view, net distance).
A one-class model fitted to the boxes of **normal** training frames (kNN distance after
standardising, no abnormal example seen) scores each box; so does, as a check, a logistic
regression trained on the training types' target boxes. Only boxes of person-like tracks are
scored (``person_gate``: old and tall enough; the others score 0), and with ``--edge-margin``
none that the frame border cuts (``edge_boxes``). A frame's score is its highest box.
The evaluation is ``tvau eval ahd``'s: the frames of ``training/reproduce_default.sh``
(``--clip-stride`` 8 on validation, 4 on test) and the same metrics code (micro/macro AUC,
RBDC, TBDC); the anomaly types of validation and test are unseen in training.

    python -m research.track_probe --dataset data/default/ubnormal --out outputs/track_probe \\
        [--splits validation,test] [--neighbours 10] [--min-age 0.5] [--min-size-ratio 0.6] [--edge-margin 1] \\
        [--workers 2]

Tracks are cached per video (``OUT/tracks/SPLIT/VIDEO.npz``), so a rerun only refits;
``oracle_tracks.py`` writes perfect tracks of every actor in the same layout. The summary goes
to ``OUT/summary.json`` (``OUT/summary_edge_margin_M.json`` with ``--edge-margin M``).
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tvau_ros.core.tracking import Tracker, TrackerConfig
from tvau_ros.core.types import Box, Region

SHORT, LONG, STEP = 15, 45, 5  # frames of history behind a feature (1 s, 3 s) and of one speed step
FEATURES = ("speed", "speed_max", "speed_spread", "straightness", "aspect", "aspect_spread",
            "height_spread", "size_ratio", "age_s", "net_long")
STRIDES = {"validation": 8, "test": 4, "train": 4}  # the clip strides of training/reproduce_default.sh
# every box starts a track at once (no confirmation delay), and a lost one ends after 0.2 s
TRACKER = TrackerConfig(min_hits=1, max_misses=3, min_lost_s=0.2, max_center_distance=0.05)
MIN_AREA, MAX_SIDE = 20, 90  # foreground components outside these (pixels) are noise or merged crowds
ROW = ("frame", "track", "x", "y", "w", "h", "target")  # columns of a video's track table


def foreground_boxes(frames: np.ndarray) -> list[np.ndarray]:
    """Per frame, the ``(n, 4)`` boxes (x, y, w, h) of its moving-foreground components that
    are neither noise nor merged crowds (``MIN_AREA``, ``MAX_SIDE``)."""
    from research.zoom_probe import foreground_components, grey_frames

    greys = grey_frames(frames)
    return [np.asarray([c[:4] for c in foreground_components(greys, t)
                        if c[4] >= MIN_AREA and max(c[2], c[3]) <= MAX_SIDE], np.float32).reshape(-1, 4)
            for t in range(len(frames))]


def video_tracks(video, detect=foreground_boxes, tracker_cfg: TrackerConfig = TRACKER) -> np.ndarray:
    """Track table ``(N, 7)`` of one video: per frame and tracked box of ``detect(frames)``
    (clipped to the frame), its track id, box and the fraction of the frame's target mask inside
    the box (0 on normal frames)."""
    frames = video.read_frames()
    labels = np.asarray(video.frame_labels)
    tracker, rows = Tracker(tracker_cfg), []
    fps, (height, width) = float(video.fps), frames.shape[1:3]
    for t, boxes in enumerate(detect(frames)):
        x0, y0 = np.maximum(boxes[:, 0], 0).astype(int), np.maximum(boxes[:, 1], 0).astype(int)  # inside the frame
        x1 = np.minimum(boxes[:, 0] + boxes[:, 2], width).astype(int)
        y1 = np.minimum(boxes[:, 1] + boxes[:, 3], height).astype(int)
        regions = [Region(Box(int(a), int(b), int(c - a), int(d - b)), 1.0, 1.0, 0.0)
                   for a, b, c, d in zip(x0, y0, x1, y1, strict=True) if c > a and d > b]
        tracker.update(regions, stamp_ns=int(t / fps * 1e9), image_size=(height, width))
        mask = (video.read_mask(t) > 0) if labels[t] else None
        total = float(mask.sum()) if mask is not None else 0.0
        for region in regions:
            if region.track_id == 0:
                continue
            b = region.box
            inside = float(mask[b.y:b.y + b.height, b.x:b.x + b.width].sum()) / total if total else 0.0
            rows.append((t, region.track_id, b.x, b.y, b.width, b.height, inside))
    return np.asarray(rows, np.float32).reshape(-1, len(ROW))


def _size_model(table: np.ndarray) -> np.ndarray:
    """Least-squares box height against the box's bottom row, over all boxes of a video: the
    expected person height at an image row (ground plane seen in perspective)."""
    bottom = table[:, 3] + table[:, 5]
    design = np.stack([bottom, np.ones_like(bottom)], 1)
    coef, *_ = np.linalg.lstsq(design, table[:, 5], rcond=None)
    return coef


def track_features(table: np.ndarray, fps: float) -> np.ndarray:
    """Kinematic features (``FEATURES``) of every row of a video's track table, each from the
    row's own track up to that frame (causal)."""
    out = np.zeros((len(table), len(FEATURES)), np.float32)
    if not len(table):
        return out
    coef = _size_model(table)
    for track in np.unique(table[:, 1]):
        idx = np.flatnonzero(table[:, 1] == track)
        rows = table[idx]
        order = np.argsort(rows[:, 0])
        idx, rows = idx[order], rows[order]
        frame = rows[:, 0]
        cx, cy = rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5] / 2
        for k in range(len(rows)):
            short = (frame > frame[k] - SHORT) & (frame <= frame[k])
            long = (frame > frame[k] - LONG) & (frame <= frame[k])
            s = np.flatnonzero(short)
            height = max(2.0, float(np.median(rows[s, 5])))
            aspect = rows[s, 4] / np.maximum(rows[s, 5], 1)
            if len(s) >= 2:
                # displacements over up to STEP frames: per-frame box jitter (1-2 px on a
                # 20-px person) is as large as a walker's step at 15 fps
                back = np.searchsorted(frame[s], frame[s] - STEP)
                span = np.maximum(frame[s] - frame[s][back], 1)
                step = np.hypot(cx[s] - cx[s][back], cy[s] - cy[s][back])[1:] / span[1:] * fps / height
                dt = max(float(frame[s[-1]] - frame[s[0]]), 1.0)
                net = float(np.hypot(cx[s[-1]] - cx[s[0]], cy[s[-1]] - cy[s[0]]))
                path = float(np.hypot(np.diff(cx[s]), np.diff(cy[s])).sum())
                speed = net / dt * fps / height
                feats = [speed, float(np.max(step)), float(np.std(step)) / (float(np.mean(step)) + 0.2),
                         net / (path + 1.0)]
            else:
                feats = [0.0, 0.0, 0.0, 1.0]
            expected = max(2.0, coef[0] * (rows[k, 3] + rows[k, 5]) + coef[1])
            lg = np.flatnonzero(long)
            net_long = float(np.hypot(cx[lg[-1]] - cx[lg[0]], cy[lg[-1]] - cy[lg[0]])) / height
            feats += [float(np.median(aspect)), float(np.std(aspect)), float(np.std(rows[s, 5])) / height,
                      height / expected, (frame[k] - frame[0]) / fps, net_long]
            out[idx[k]] = feats
    return out


def person_gate(features: np.ndarray, min_age_s: float, min_size_ratio: float) -> np.ndarray:
    """Boxes that look like a tracked person: a track at least ``min_age_s`` old and a box at
    least ``min_size_ratio`` of the expected height at its row. The others are mostly short-lived
    fragments (lighting, shadows, a person's split blob) whose jitter looks like a sprint."""
    return (features[:, FEATURES.index("age_s")] >= min_age_s) & \
        (features[:, FEATURES.index("size_ratio")] >= min_size_ratio)


def edge_boxes(table: np.ndarray, height: int, width: int, margin: int) -> np.ndarray:
    """Rows of a track table whose box lies within ``margin`` pixels of the frame border (none for
    a negative margin). The border cuts such a person, so the box's height and shape are not theirs.

    >>> edge_boxes(np.array([[0, 1, 0, 5, 4, 9, 0], [0, 2, 20, 5, 4, 9, 0]], np.float32), 30, 40, 1).tolist()
    [True, False]
    """
    x, y, w, h = table[:, 2], table[:, 3], table[:, 4], table[:, 5]
    return (x <= margin) | (y <= margin) | (x + w >= width - margin) | (y + h >= height - margin)


def _extract(args) -> tuple[str, np.ndarray]:
    video, path, detect = args
    if path.is_file():
        with np.load(path) as data:
            return video.name, data["table"]
    table = video_tracks(video, detect)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, table=table)
    return video.name, table


def split_tables(dataset: str, split: str, out: Path, workers: int,
                 detect=foreground_boxes) -> tuple[list, dict[str, np.ndarray]]:
    """The split's videos (by name) and their track tables, read from ``out/tracks/SPLIT`` or
    made with ``detect`` there (in ``workers`` processes; 1 runs in this one)."""
    from tvau_ros.data import load_dataset

    videos = sorted(load_dataset(dataset, split), key=lambda v: v.name)
    jobs = [(v, out / "tracks" / split / f"{v.name}.npz", detect) for v in videos]
    if workers == 1:
        return videos, dict(map(_extract, jobs))
    with ProcessPoolExecutor(workers) as pool:
        return videos, dict(pool.map(_extract, jobs))


def _log(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0))  # every feature is >= 0; speeds and times are heavy-tailed


def distance_scorer(bank: np.ndarray, neighbours: int):
    """Scores in [0, 1): d / (1 + d) of d = mean distance to the ``neighbours`` nearest rows of
    ``bank`` (vectors used as they are).

    >>> score = distance_scorer(np.random.default_rng(0).normal(0, 0.1, (100, 4)), 5)
    >>> bool(score(np.ones((1, 4)))[0] > score(np.zeros((1, 4)))[0])
    True
    """
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=min(neighbours, len(bank))).fit(bank)

    def score(x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        distance = index.kneighbors(x)[0].mean(1)
        return distance / (1.0 + distance)
    return score


def knn_scorer(normal: np.ndarray, neighbours: int, max_bank: int = 20000, seed: int = 0):
    """One-class ``distance_scorer`` of kinematic features: ``log1p``, standardised with the
    normal set's mean and spread (at most ``max_bank`` normal rows kept).

    >>> normal = np.random.default_rng(0).uniform(0.5, 1.0, (200, 3))
    >>> score = knn_scorer(normal, 5)
    >>> bool(score(np.array([[5.0, 0.7, 0.7]]))[0] > score(np.array([[0.7, 0.7, 0.7]]))[0])
    True
    """
    bank = _log(normal[np.random.default_rng(seed).permutation(len(normal))[:max_bank]])
    mean, std = bank.mean(0), bank.std(0) + 1e-6
    score = distance_scorer((bank - mean) / std, neighbours)
    return lambda x: score((_log(x) - mean) / std) if len(x) else np.zeros(0)


def logistic_scorer(features: np.ndarray, targets: np.ndarray):
    """Supervised check: a class-balanced logistic regression on the same features, trained on
    the target boxes of the training types against the boxes of normal frames."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(_log(features))
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(scaler.transform(_log(features)), targets)
    return lambda x: model.predict_proba(scaler.transform(_log(x)))[:, 1] if len(x) else np.zeros(0)


def evaluate_split(videos, tables: dict[str, np.ndarray], scorers: dict, stride: int,
                   features: dict[str, np.ndarray] | None = None) -> dict:
    """Per scorer: ``tvau eval ahd``'s report on every ``stride``-th 8-frame clip (frame score =
    the highest box, 0 without boxes; detections = the scored boxes) and the box-level AUC of
    target boxes (>= 30 % of the target's mask) against all others, overall and per anomaly type
    (videos of one type); plus how often a tracked box holds the target (``target_recall``,
    abnormal frames), how many track ids hold a target in a video that has one (1 per target
    when tracks never break) and the boxes per frame; and the percentage of boxes that touch the
    frame border (``edge_boxes``, 1 px), among all boxes and among the highest boxes of the 300
    highest-scoring normal frames (``edge_share_top_normal``). ``features`` (per video, one row
    per table row) replaces ``track_features``; a scorer may give NaN to rows outside the
    evaluated frames, which the box AUC then leaves out."""
    from sklearn.metrics import roc_auc_score

    from tvau_ros.evaluation.ahd_benchmark import ClipSubsample
    from tvau_ros.metrics.predictions import Predictions
    from tvau_ros.metrics.regions import Detection
    from tvau_ros.metrics.report import EvalOptions, evaluate_predictions

    views = [ClipSubsample(v, 8, stride) for v in videos]
    features = features or {v.name: track_features(tables[v.name], v.fps) for v in videos}
    targets = np.concatenate([tables[v.name][:, 6] >= 0.3 for v in videos])
    kinds = np.concatenate([np.full(len(tables[v.name]), ",".join((v.meta or {}).get("anomaly_types") or ["normal"]))
                            for v in videos])
    abnormal = sum(int(np.sum(v.frame_labels)) for v in videos)
    held = sum(np.unique(tables[v.name][tables[v.name][:, 6] >= 0.3, 0]).size for v in videos)
    ids = [np.unique(t[t[:, 6] >= 0.3, 1]).size for t in tables.values() if (t[:, 6] >= 0.3).any()]
    edge = np.concatenate([edge_boxes(tables[v.name], v.height, v.width, 1) for v in videos])
    out = {"target_recall": 100.0 * held / max(abnormal, 1), "track_ids_per_target_video": float(np.mean(ids or [0])),
           "edge_share_all_boxes": 100.0 * float(edge.mean()) if len(edge) else 0.0,
           "boxes_per_frame": sum(len(t) for t in tables.values()) / sum(v.num_frames for v in videos)}
    for name, scorer in scorers.items():
        frame_scores, detections, box_scores, top_normal = {}, {}, [], []
        for video, view in zip(videos, views, strict=True):
            table = tables[video.name]
            scores = scorer(features[video.name])
            box_scores.append(scores)
            full = np.zeros(video.num_frames)
            with np.errstate(invalid="ignore"):  # NaN rows lie outside the evaluated frames
                np.maximum.at(full, table[:, 0].astype(int), scores)
            frame_scores[video.name] = full[view.source_frames]
            position = {int(f): i for i, f in enumerate(view.source_frames)}
            detections[video.name] = [
                Detection(video.name, position[int(r[0])], (r[2], r[3], r[2] + r[4] - 1, r[3] + r[5] - 1), float(s))
                for r, s in zip(table, scores, strict=True) if int(r[0]) in position]
            at_edge = edge_boxes(table, video.height, video.width, 1)
            labels = np.asarray(video.frame_labels)
            for frame in view.source_frames[labels[view.source_frames] == 0]:
                rows = np.flatnonzero(table[:, 0] == frame)
                if len(rows):
                    best = rows[np.argmax(scores[rows])]
                    top_normal.append((float(scores[best]), bool(at_edge[best])))
        report = evaluate_predictions(Predictions(name, frame_scores, detections), views, EvalOptions()).report
        scores = np.concatenate(box_scores)
        scored = np.isfinite(scores)
        out[name] = {"micro_auc": report["frame"]["micro_auc"], "macro_auc": report["frame"]["macro_auc"],
                     "rbdc": report["region"]["rbdc"], "tbdc": report["region"]["tbdc"],
                     "box_auc": 100.0 * roc_auc_score(targets[scored], scores[scored]),
                     "edge_share_top_normal": 100.0 * float(np.mean(
                         [e for _, e in sorted(top_normal, reverse=True)[:300]] or [0]))}
        others, by_type = scores[~targets & scored], {}
        for kind in sorted(set(kinds[targets & scored])):
            if "," in kind:
                continue  # a video with several types: the table does not say which target is which
            hits = scores[targets & scored & (kinds == kind)]
            by_type[kind] = 100.0 * roc_auc_score(np.r_[np.ones(len(hits)), np.zeros(len(others))], np.r_[hits, others])
        out[name + "_box_auc_by_type"] = by_type
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default/ubnormal", help="UBnormal-layout dataset root")
    parser.add_argument("--out", type=Path, default=Path("outputs/track_probe"),
                        help="track cache (tracks/SPLIT/VIDEO.npz) and summary.json")
    parser.add_argument("--splits", default="validation,test", help="comma-separated evaluated splits")
    parser.add_argument("--neighbours", type=int, default=10, help="k of the one-class kNN distance")
    parser.add_argument("--workers", type=int, default=2, help="processes extracting tracks")
    parser.add_argument("--min-age", type=float, default=0.5,
                        help="seconds a track must exist before its boxes are scored (others score 0)")
    parser.add_argument("--min-size-ratio", type=float, default=0.6,
                        help="smallest box height, as a fraction of the expected height at its row, that is scored")
    parser.add_argument("--edge-margin", type=int, default=-1,
                        help="boxes within this many pixels of the frame border are not scored (-1: they are)")
    args = parser.parse_args()
    if args.neighbours < 1:
        sys.exit(f"track_probe: --neighbours must be >= 1, got {args.neighbours}")
    if args.min_age < 0 or args.min_size_ratio < 0:
        sys.exit(f"track_probe: --min-age and --min-size-ratio must be >= 0, "
                 f"got {args.min_age} and {args.min_size_ratio}")
    if args.workers < 1:
        sys.exit(f"track_probe: --workers must be >= 1, got {args.workers}")
    splits = args.splits.split(",")
    unknown = [s for s in splits if s not in STRIDES]
    if unknown:
        sys.exit(f"track_probe: unknown split {unknown[0]!r} in --splits (known: {', '.join(STRIDES)})")
    if not Path(args.dataset).is_dir():
        sys.exit(f"track_probe: --dataset {args.dataset} is not a directory")

    def scored_features(videos, tables) -> dict[str, np.ndarray]:
        """Per video, the kinematic features and a last column: 1 where the box is scored."""
        out = {}
        for v in videos:
            f = track_features(tables[v.name], v.fps)
            keep = person_gate(f, args.min_age, args.min_size_ratio) & \
                ~edge_boxes(tables[v.name], v.height, v.width, args.edge_margin)
            out[v.name] = np.concatenate([f, keep[:, None]], 1)
        return out

    videos, tables = split_tables(args.dataset, "train", args.out, args.workers)
    scored = scored_features(videos, tables)
    features = np.concatenate([scored[v.name] for v in videos])
    keep, features = features[:, -1] > 0, features[:, :-1]
    table = np.concatenate([tables[v.name] for v in videos])
    normal_frame = np.concatenate([np.asarray(v.frame_labels)[tables[v.name][:, 0].astype(int)] == 0 for v in videos])
    target = table[:, 6] >= 0.3
    normal, labelled = normal_frame & keep, (target | normal_frame) & keep
    models = {"one_class_knn": knn_scorer(features[normal], args.neighbours),
              "logistic_seen_types": logistic_scorer(features[labelled], target[labelled])}
    scorers = {name: (lambda f, m=model: m(f[:, :-1]) * f[:, -1]) for name, model in models.items()}
    summary = {"features": list(FEATURES), "min_age_s": args.min_age, "min_size_ratio": args.min_size_ratio,
               "edge_margin": args.edge_margin, "normal_training_boxes": int(normal.sum())}
    for split in splits:
        videos, tables = split_tables(args.dataset, split, args.out, args.workers)
        summary[split] = evaluate_split(videos, tables, scorers, STRIDES[split], scored_features(videos, tables))
        result = summary[split]
        print(f"{split}: a tracked box holds the target in {result['target_recall']:.1f} % of abnormal frames, "
              f"{result['boxes_per_frame']:.1f} boxes per frame, "
              f"{result['track_ids_per_target_video']:.1f} track ids hold a target per abnormal video, "
              f"{result['edge_share_all_boxes']:.1f} % of boxes touch the frame border")
        for name in scorers:
            print(f"  {name:20s} " + "  ".join(f"{k} {v:.1f}" for k, v in result[name].items()))
            print(f"  {'':20s} box AUC by type: " + ", ".join(
                f"{k} {v:.1f}" for k, v in result[name + "_box_auc_by_type"].items()))
    args.out.mkdir(parents=True, exist_ok=True)
    name = "summary.json" if args.edge_margin < 0 else f"summary_edge_margin_{args.edge_margin}.json"
    (args.out / name).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
