"""Build the real-footage check set from the usable frames (0-399) of vtest.avi.

Two folds, so every check clip is judged by a scene model learnt from other frames:
fold ``a`` learns from frames 0-199 and checks 200-399, fold ``b`` the reverse. Each fold is
a UBnormal-layout root (``load_dataset(OUT/fold_a, "test")`` reads its check clips,
``"train"`` its learning footage)::

    OUT/fold_a/Scene_vtest/vtest_a_learn.mp4                  learning footage (train split)
    OUT/fold_a/Scene_vtest/vtest_a_normal_00.mp4              plain check frames, 10 s clips
    OUT/fold_a/Scene_vtest/vtest_a_fall_00.mp4                one composited anomaly each
    OUT/fold_a/Scene_vtest/{video}_annotations/{video}_meta.json, _tracks.txt, _{f:04d}_gt.png
    OUT/fold_a/{abnormal,normal}_test_video_names.txt, normal_training_video_names.txt
    OUT/previews/{video}.png                                  a composited frame, mask outlined
    OUT/summary.json
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tvau_ros.data.dataset import spans_from_labels
from tvau_ros.data.realcheck import people, things
from tvau_ros.data.realcheck.composite import Composite, darken, paste
from tvau_ros.data.realcheck.footage import (LAST_USABLE_FRAME, USABLE_FRAMES, VTEST_SIZE, FootageError,
                                             check_source, read_frames)
from tvau_ros.data.realcheck.scene import SceneFacts, learn_scene, longest_still_s
from tvau_ros.data.realcheck.sprites import Sprite, extract_sprites
from tvau_ros.data.synthetic.writer import write_mp4
from tvau_ros.data.ubnormal import mask_path, write_tracks_file

SCENE_DIR = "Scene_vtest"
KINDS = ("fast_walker", "fall", "thrown_object", "vehicle", "standing_still")
LONG_KINDS = ("standing_still",)      # use the fold's whole check range, not a 10 s clip
HALF = USABLE_FRAMES // 2
FOLDS = {"a": ((0, HALF), (HALF, USABLE_FRAMES)), "b": ((HALF, USABLE_FRAMES), (0, HALF))}
PLACEMENT_ATTEMPTS = 6
MIN_VISIBLE_PX = 25   # a frame is labelled only when this much (or a quarter) of the target shows


class BuildError(RuntimeError):
    """The check set cannot be built (bad output folder, no sprites, no placement)."""


@dataclass(frozen=True)
class BuildOptions:
    seed: int = 0
    per_kind: int = 4
    clip_seconds: float = 10.0
    expected_size: tuple[int, int] | None = VTEST_SIZE
    overwrite: bool = False


def _our_paths(out: Path) -> list[Path]:
    return [out / f"fold_{f}" for f in FOLDS] + [out / "previews", out / "summary.json"]


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an earlier check set in ``out`` unless ``overwrite``; make sure ``out`` is writable.
    Deletes nothing (that waits until the footage has been read and understood)."""
    present = [p for p in _our_paths(out) if p.exists()]
    if present and not overwrite:
        raise BuildError(f"--out {out}: already holds a check set ({present[0].name}); "
                         f"pass --overwrite or choose another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BuildError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def _clear_out(out: Path) -> None:
    for p in _our_paths(out):
        if p.exists():
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _clip_windows(check: tuple[int, int], clip_frames: int) -> list[tuple[int, int]]:
    starts = range(check[0], check[1] - clip_frames + 1, clip_frames)
    return [(s, s + clip_frames) for s in starts]


def _make(kind: str, facts: SceneFacts, rng: np.random.Generator, sprites: list[Sprite],
          source_frames: list[int]) -> Composite:
    if kind == "fast_walker":
        return people.fast_walker(facts, rng, sprites, source_frames)
    if kind == "fall":
        return people.fall(facts, rng, sprites, source_frames)
    if kind == "standing_still":
        return people.standing_still(facts, rng, sprites, source_frames)
    if kind == "thrown_object":
        return things.thrown_object(facts, rng, source_frames)
    return things.vehicle(facts, rng, source_frames)


def _place(kind: str, facts: SceneFacts, sprites: list[Sprite], check: tuple[int, int], windows: list,
           key: tuple) -> tuple[Composite, list[int]] | tuple[None, str]:
    """The composite for clip ``key`` = (seed, fold, kind, index) and its source frames. When
    no place fits (the plaza is busy in that clip), the next attempt draws anew in the next
    window; after PLACEMENT_ATTEMPTS it returns (None, the last reason)."""
    reason = ""
    for attempt in range(PLACEMENT_ATTEMPTS):
        s, e = check if kind in LONG_KINDS else windows[(key[3] + attempt) % len(windows)]
        src = list(range(s, e))
        try:
            comp = _make(kind, facts, np.random.default_rng(list(key) + [attempt]), sprites, src)
        except people.PlacementError as exc:
            reason = str(exc)
            continue
        comp.meta["placement_attempt"] = attempt
        return comp, src
    return None, f"{reason} (after {PLACEMENT_ATTEMPTS} attempts)"


def _render(frames: np.ndarray, facts: SceneFacts, source_frames: list[int],
            comp: Composite | None) -> tuple[list[np.ndarray], list[np.ndarray | None], np.ndarray]:
    """Composited BGR frames, boolean GT masks (None where no target) and frame labels."""
    out, masks, labels = [], [], np.zeros(len(source_frames), np.uint8)
    for k, f in enumerate(source_frames):
        frame = frames[f].copy()
        op = comp.ops[k] if comp else None
        mask = None
        if op is not None:
            hidden = facts.hidden(frame, f, op.foot_v, op.layer.box)
            if op.shadow is not None:
                darken(frame, op.shadow, hidden)
            mask = paste(frame, op.layer, hidden)
            whole = int((op.layer.cover >= 0.5).sum())
            labels[k] = op.happening and mask.any() and int(mask.sum()) >= min(MIN_VISIBLE_PX, whole // 4)
        out.append(frame)
        masks.append(mask)
    return out, masks, labels


def _write_video(root: Path, name: str, frames: list[np.ndarray], fps: float, meta: dict,
                 masks: list[np.ndarray | None] | None = None, labels: np.ndarray | None = None) -> None:
    scene = root / SCENE_DIR
    ann = scene / f"{name}_annotations"
    ann.mkdir(parents=True, exist_ok=True)
    write_mp4(scene / f"{name}.mp4", frames, fps)
    if labels is not None and labels.any():
        write_tracks_file(ann / f"{name}_tracks.txt", spans_from_labels(labels, 1))
        for f in np.flatnonzero(labels):
            cv2.imwrite(str(mask_path(ann, name, int(f))), masks[f].astype(np.uint8))
    (ann / f"{name}_meta.json").write_text(json.dumps(meta, indent=1))


def _preview(path: Path, frame: np.ndarray, mask: np.ndarray) -> None:
    """The composited frame with the GT outline, and a 3x crop around the target."""
    vis = frame.copy()
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    ys, xs = np.nonzero(mask)
    cy, cx = int(ys.mean()), int(xs.mean())
    half = max(24, int(0.75 * max(np.ptp(ys), np.ptp(xs))) + 8)
    y0, x0 = max(0, cy - half), max(0, cx - half)
    crop = frame[y0:cy + half, x0:cx + half]
    zoom = cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    cv2.drawContours(vis, contours, -1, (0, 255, 0), 1)
    h = max(vis.shape[0], zoom.shape[0])
    tiles = [np.pad(im, ((0, h - im.shape[0]), (0, 4), (0, 0))) for im in (vis, zoom)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.hstack(tiles))


def _target_meta(kind: str, masks: list[np.ndarray | None], labels: np.ndarray) -> list[dict]:
    if not labels.any():
        return []
    areas = [int(masks[f].sum()) for f in np.flatnonzero(labels)]
    return [{"object_id": 1, "category": kind, "start": int(np.flatnonzero(labels)[0]),
             "end": int(np.flatnonzero(labels)[-1]), "mean_area_px": round(float(np.mean(areas)), 1),
             "visible_frames": len(areas), "subtle": False}]


def _base_meta(name: str, fold: str, kind: str, split: str, source_frames: list[int], facts: SceneFacts,
               learn: tuple[int, int], source: Path) -> dict:
    return {"video": name, "scene": "vtest", "fold": fold, "split": split, "kind": kind,
            "source": {"file": source.name, "frames": [source_frames[0], source_frames[-1]]},
            "scene_model_frames": [learn[0], learn[1] - 1], "width": facts.width, "height": facts.height,
            "fps": facts.fps, "num_frames": len(source_frames), "layout": "vtest_realcheck"}


def build_check_set(video: str | Path, out: str | Path, options: BuildOptions = BuildOptions(),
                    log: Callable[[str], None] = print) -> dict:
    """Build the check set under ``out``; return (and write) its summary."""
    t_start = time.time()
    info = check_source(video, options.expected_size)
    if options.per_kind < 1:
        raise BuildError(f"--per-kind {options.per_kind}: need at least 1 clip per kind and fold")
    clip_frames = int(round(options.clip_seconds * info.fps))
    if not 1 <= clip_frames <= HALF:
        raise BuildError(f"clip_seconds {options.clip_seconds}: clips must hold 1..{HALF} frames "
                         f"at {info.fps:g} fps")
    out = Path(out)
    _check_out(out, options.overwrite)
    log(f"reading frames 0-{LAST_USABLE_FRAME} of {info.path} ({info.num_frames} frames, "
        f"{info.width}x{info.height}, {info.fps:g} fps; frames {USABLE_FRAMES}+ are never read)")
    frames = read_frames(info.path, 0, USABLE_FRAMES)
    facts = learn_scene(frames, info.fps)
    sprites = {}
    for fold, (learn, _) in FOLDS.items():
        sprites[fold] = extract_sprites(frames[learn[0]:learn[1]], learn[0], facts.blobs[learn[0]:learn[1]],
                                        facts.line, facts.fps)
        if not sprites[fold]:
            raise BuildError(f"fold {fold}: no isolated walker found in frames {learn[0]}-{learn[1] - 1} "
                             f"to cut out as a sprite")
    _clear_out(out)
    log(f"scene: person height {facts.line.at(facts.height * 0.4):.0f} px at row {facts.height * 0.4:.0f}, "
        f"{facts.line.at(facts.height - 1):.0f} px at the bottom; camera {facts.camera.to_dict()}; "
        f"walkway {facts.walkway.mean():.1%} of the view")
    summary = {"source": str(info.path), "source_frames_used": [0, LAST_USABLE_FRAME], "seed": options.seed,
               "fps": info.fps, "width": info.width, "height": info.height, "clip_seconds": options.clip_seconds,
               "geometry": {"person_height": facts.line.to_dict(), "camera": facts.camera.to_dict(),
                            "walkway_fraction": round(float(facts.walkway.mean()), 3)},
               "normal_longest_still_s": longest_still_s(facts), "folds": {}}
    rows = []
    for fi, (fold, (learn, check)) in enumerate(FOLDS.items()):
        root = out / f"fold_{fold}"
        log(f"fold {fold}: learn frames {learn[0]}-{learn[1] - 1}, check frames {check[0]}-{check[1] - 1}, "
            f"{len(sprites[fold])} walker sprites")
        learn_name = f"vtest_{fold}_learn"
        learn_frames = list(range(*learn))
        _write_video(root, learn_name, [frames[f] for f in learn_frames], info.fps,
                     _base_meta(learn_name, fold, "learning", "train", learn_frames, facts, learn, info.path))
        names = {"normal_training": [learn_name], "normal_test": [], "abnormal_test": []}
        windows = _clip_windows(check, clip_frames)
        for j, (s, e) in enumerate(windows):
            name = f"vtest_{fold}_normal_{j:02d}"
            src = list(range(s, e))
            _write_video(root, name, [frames[f] for f in src], info.fps,
                         dict(_base_meta(name, fold, "normal", "test", src, facts, learn, info.path),
                              targets=[], anomaly_types=[], abnormal_spans=[]))
            names["normal_test"].append(name)
            rows.append(("normal", fold, name, len(src), 0, 0.0))
        for ki, kind in enumerate(KINDS):
            for i in range(options.per_kind):
                comp, src = _place(kind, facts, sprites[fold], check, windows, (options.seed, fi, ki, i))
                if comp is None:
                    raise BuildError(f"fold {fold}, {kind} #{i}: {src}")
                clip, masks, labels = _render(frames, facts, src, comp)
                name = f"vtest_{fold}_{kind}_{i:02d}"
                targets = _target_meta(kind, masks, labels)
                if not targets:
                    raise BuildError(f"fold {fold}, {kind} #{i}: the composite is never visible")
                visible = [k for k, m in enumerate(masks) if m is not None and m.any()]
                meta = dict(_base_meta(name, fold, kind, "test", src, facts, learn, info.path),
                            targets=targets, anomaly_types=[kind],
                            abnormal_spans=[[t.start, t.end] for t in spans_from_labels(labels)],
                            composite=dict(comp.meta, first_visible=visible[0], last_visible=visible[-1]))
                _write_video(root, name, clip, info.fps, meta, masks, labels)
                mid = int(np.flatnonzero(labels)[len(np.flatnonzero(labels)) // 2])
                _preview(out / "previews" / f"{name}.png", clip[mid], masks[mid])
                names["abnormal_test"].append(name)
                rows.append((kind, fold, name, len(src), int(labels.sum()), targets[0]["mean_area_px"]))
        for key, listed in names.items():
            (root / f"{key}_video_names.txt").write_text("".join(f"{n}\n" for n in listed))
        summary["folds"][fold] = {"root": f"fold_{fold}", "learn_frames": [learn[0], learn[1] - 1],
                                  "check_frames": [check[0], check[1] - 1], "sprites": len(sprites[fold]),
                                  "learn_video": f"fold_{fold}/{SCENE_DIR}/{learn_name}.mp4",
                                  "videos": {k: len(v) for k, v in names.items()}}
    summary["kinds"] = _per_kind(rows, info.fps)
    summary["build_seconds"] = round(time.time() - t_start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _per_kind(rows: list[tuple], fps: float) -> dict:
    table = {}
    for kind in ("normal",) + KINDS:
        sel = [r for r in rows if r[0] == kind]
        frames = sum(r[3] for r in sel)
        entry = {"clips": len(sel), "frames": frames, "abnormal_frames": sum(r[4] for r in sel),
                 "minutes": round(frames / fps / 60.0, 2)}
        if kind != "normal":
            entry["mean_target_px"] = round(float(np.mean([r[5] for r in sel])), 1)
        table[kind] = entry
    return table


def format_summary(summary: dict) -> str:
    """The summary as a small table (one row per kind) plus the totals."""
    lines = [f"{'kind':<16}{'clips':>6}{'frames':>8}{'abnormal':>10}{'minutes':>9}{'target px':>11}"]
    for kind, e in summary["kinds"].items():
        lines.append(f"{kind:<16}{e['clips']:>6}{e['frames']:>8}{e['abnormal_frames']:>10}{e['minutes']:>9.2f}"
                     f"{e.get('mean_target_px', float('nan')):>11.1f}")
    abn = [e for k, e in summary["kinds"].items() if k != "normal"]
    lines.append(f"{'all abnormal':<16}{sum(e['clips'] for e in abn):>6}{sum(e['frames'] for e in abn):>8}"
                 f"{sum(e['abnormal_frames'] for e in abn):>10}{sum(e['minutes'] for e in abn):>9.2f}")
    lines.append(f"normal footage: {summary['kinds']['normal']['minutes']:.2f} min in "
                 f"{summary['kinds']['normal']['clips']} clips; longest still person in frames 0-399: "
                 f"{summary['normal_longest_still_s']:.1f} s; built in {summary['build_seconds']:.0f} s")
    return "\n".join(lines)


__all__ = ["KINDS", "BuildError", "BuildOptions", "FootageError", "build_check_set", "format_summary"]
