"""Trajectory facts measured on a rendered target's masks (not on the script that drew it).

- entry/exit side: the image border the mask touches at the first/last frame of its span
  (the border it moves away from / towards when it touches two), else ``inside``;
- ground track: the mask's foot point back-projected onto the ground through the known camera:
  its column is the mask centroid's; its row is the centroid row plus the running median
  (1 s) of the centroid-to-bottom offset, so the sub-pixel centroid carries the motion and
  leg swing does not; the lowest point over +-0.25 s is used so jumps are not moves;
- speed states: ``stationary`` < 0.3 m/s <= ``slow`` < 0.9 <= ``walking`` < 2.4 <=
  ``running`` < 5.5 <= ``fast``, runs shorter than 0.6 s merged into their neighbour;
- turns: heading change > 45 degrees between the 0.8 s before and after a frame, ``left`` or
  ``right`` from the target's own point of view, with the angle in degrees.
"""
from __future__ import annotations

import cv2
import numpy as np

from tvau_ros.data.synthetic.camera import Camera

SPEED_STATES = (("stationary", 0.3), ("slow", 0.9), ("walking", 2.4), ("running", 5.5), ("fast", np.inf))
TURN_DEG = 45.0


def empty_track(n: int, start: int = 0) -> dict:
    return {"start": start, "area": np.zeros(n, np.int64), "bbox": np.full((n, 4), -1, np.int64),
            "foot": np.full((n, 2), np.nan), "centroid": np.full((n, 2), np.nan)}


def measure(track: dict, i: int, mask: np.ndarray) -> None:
    """Fill row ``i`` of ``track`` from a binary uint8 mask: area, bbox (x0, y0, x1, y1
    inclusive), centroid and foot point (centroid column, row below the lowest pixel)."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        return
    roi = mask[y:y + h, x:x + w]
    cols, rows = roi.sum(axis=0, dtype=np.int64), roi.sum(axis=1, dtype=np.int64)
    track["area"][i] = int(cols.sum())
    track["bbox"][i] = (x, y, x + w - 1, y + h - 1)
    cx = x + float((cols * np.arange(w)).sum() / cols.sum()) + 0.5
    track["centroid"][i] = (cx, y + float((rows * np.arange(h)).sum() / rows.sum()) + 0.5)
    track["foot"][i] = (cx, y + h)


def mask_track(labels: np.ndarray, obj_id: int, start: int, end: int) -> dict:
    """Per-frame measurements of one target's mask over frames ``start..end``."""
    track = empty_track(end - start + 1, start)
    for i, f in enumerate(range(start, end + 1)):
        measure(track, i, (labels[f] == obj_id).astype(np.uint8))
    return track


def span_of(track: dict, start: int, end: int) -> dict:
    """Rows ``start..end`` (absolute frames) of a whole-video track."""
    a, b = start - track["start"], end - track["start"] + 1
    return {"start": start, **{k: v[a:b] for k, v in track.items() if k != "start"}}


def _touching(box: np.ndarray, width: int, height: int) -> list[str]:
    x0, y0, x1, y1 = box
    sides = []
    if x0 <= 1:
        sides.append("left")
    if x1 >= width - 2:
        sides.append("right")
    if y0 <= 1:
        sides.append("top")
    if y1 >= height - 2:
        sides.append("bottom")
    return sides


_OUTWARD = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}


def _side(track: dict, i: int, j: int, width: int, height: int, entering: bool) -> str:
    sides = _touching(track["bbox"][i], width, height)
    if not sides:
        return "inside"
    if len(sides) == 1:
        return sides[0]

    def c(k: int) -> np.ndarray:
        return np.array([(track["bbox"][k][0] + track["bbox"][k][2]) / 2,
                         (track["bbox"][k][1] + track["bbox"][k][3]) / 2])

    motion = c(j) - c(i) if entering else c(i) - c(j)
    sign = -1 if entering else 1
    return max(sides, key=lambda s: sign * float(np.dot(motion, _OUTWARD[s])))


def _smooth(x: np.ndarray, win: int) -> np.ndarray:
    if win <= 1 or len(x) < 2:
        return x
    pad = min(win // 2, len(x) - 1)
    win = 2 * pad + 1
    # point reflection at the ends keeps a steady motion steady (no slowdown at the edges)
    xp = np.pad(x, [(pad, pad)] + [(0, 0)] * (x.ndim - 1), mode="reflect", reflect_type="odd")
    k = np.ones(win) / win
    if x.ndim == 1:
        return np.convolve(xp, k, mode="valid")
    return np.stack([np.convolve(xp[:, d], k, mode="valid") for d in range(x.shape[1])], 1)


def usable(track: dict, width: int, height: int) -> np.ndarray:
    """Frames whose mask is seen whole: present and not cut by an image border."""
    box = track["bbox"]
    return (track["area"] > 0) & (box[:, 0] > 1) & (box[:, 1] > 1) & (box[:, 2] < width - 2) & \
        (box[:, 3] < height - 2)


def _ground_contact(v: np.ndarray, w: int) -> np.ndarray:
    """Lowest foot row around each frame relative to the local linear trend, so a jump
    (feet briefly higher) does not read as moving away while steady motion has no lag."""
    n = len(v)
    out = np.full(n, np.nan)
    for i in range(n):
        j = np.arange(max(0, i - w), min(n, i + w + 1))
        j = j[np.isfinite(v[j])]
        if j.size == 0:
            continue
        if j.size < 3:
            out[i] = v[j].max()
            continue
        slope, icpt = np.polyfit(j, v[j], 1)
        out[i] = slope * i + icpt + (v[j] - (slope * j + icpt)).max()
    return out


def ground_track(track: dict, cam: Camera, fps: float) -> np.ndarray:
    """(N, 2) smoothed ground positions of the mask's foot point (centroid column, bottom
    row); frames where the mask is cut by a border or absent are interpolated."""
    foot = track["foot"].copy()
    ok = usable(track, cam.width, cam.height)
    foot[~ok] = np.nan
    n = len(foot)
    if ok.sum() == 0:
        # whole span cut by a border: fall back on bbox centres and bottoms
        box = track["bbox"].astype(float)
        foot = np.stack([(box[:, 0] + box[:, 2]) / 2, box[:, 3] + 1], 1)
        ok = box[:, 0] >= 0
        if ok.sum() == 0:
            return np.zeros((n, 2))
        cy = foot[:, 1]
    else:
        cy = track["centroid"][:, 1]
    offset = np.where(ok, foot[:, 1] - cy, np.nan)
    half = max(1, int(round(0.5 * fps)))
    med = np.array([np.nanmedian(offset[max(0, i - half):i + half + 1])
                    if np.isfinite(offset[max(0, i - half):i + half + 1]).any() else np.nan for i in range(n)])
    vmax = _ground_contact(np.where(ok & np.isfinite(med), cy + med, np.nan), max(1, int(round(0.25 * fps))))
    x, z = cam.ground_from_pixel(foot[:, 0], np.where(np.isfinite(vmax), vmax, np.nan))
    pos = np.stack([x, z], 1)
    good = np.isfinite(pos).all(1) & ok
    idx = np.arange(n)
    if good.sum() == 0:
        return np.zeros((n, 2))
    g = idx[good]
    pos = np.stack([np.interp(idx, g, pos[good, d]) for d in range(2)], 1)
    if len(g) > 1:  # continue the motion linearly where the target is cut by a border
        m = min(len(g) - 1, max(1, int(round(0.5 * fps))))
        v0 = (pos[g[m]] - pos[g[0]]) / (g[m] - g[0])
        v1 = (pos[g[-1]] - pos[g[-1 - m]]) / (g[-1] - g[-1 - m])
        pos[:g[0]] = pos[g[0]] + (idx[:g[0]] - g[0])[:, None] * v0
        pos[g[-1] + 1:] = pos[g[-1]] + (idx[g[-1] + 1:] - g[-1])[:, None] * v1
    return _smooth(pos, max(3, int(round(0.6 * fps)) | 1))


def speed_states(pos: np.ndarray, fps: float, start: int, valid: np.ndarray | None = None) -> list[dict]:
    """Speed state runs; frames outside ``valid`` (cut by the border) take the state of the
    nearest valid frame, since positions there are extrapolated."""
    n = len(pos)
    k = max(1, int(round(0.4 * fps)))
    a = pos[np.clip(np.arange(n) - k, 0, n - 1)]
    b = pos[np.clip(np.arange(n) + k, 0, n - 1)]
    dt = (np.clip(np.arange(n) + k, 0, n - 1) - np.clip(np.arange(n) - k, 0, n - 1)) / fps
    speed = np.linalg.norm(b - a, axis=1) / np.maximum(dt, 1e-6)
    names = [s for s, _ in SPEED_STATES]
    limits = np.array([lim for _, lim in SPEED_STATES])
    cls = np.searchsorted(limits, speed, side="right")
    if valid is not None and valid.any():
        idx = np.flatnonzero(valid)
        cls = cls[idx[np.clip(np.searchsorted(idx, np.arange(n)), 0, len(idx) - 1)]]
        first, last = idx[0], idx[-1]
        cls[:first], cls[last + 1:] = cls[first], cls[last]
    runs = []
    for i, c in enumerate(cls):
        if runs and runs[-1][2] == c:
            runs[-1][1] = i
        else:
            runs.append([i, i, int(c)])
    min_len = max(1, int(round(0.6 * fps)))
    merged = True
    while merged and len(runs) > 1:
        merged = False
        for j, r in enumerate(runs):
            if r[1] - r[0] + 1 < min_len:
                other = runs[j - 1] if j > 0 else runs[j + 1]
                if j > 0:
                    other[1] = r[1]
                else:
                    other[0] = r[0]
                runs.pop(j)
                merged = True
                break
        for j in range(len(runs) - 1, 0, -1):
            if runs[j][2] == runs[j - 1][2]:
                runs[j - 1][1] = runs[j][1]
                runs.pop(j)
    return [{"start": start + r[0], "end": start + r[1], "state": names[min(r[2], len(names) - 1)]}
            for r in runs]


def turns(pos: np.ndarray, fps: float, start: int) -> list[dict]:
    n = len(pos)
    w = max(2, int(round(0.8 * fps)))
    cands = []
    for i in range(w, n - w):
        v_in, v_out = pos[i] - pos[i - w], pos[i + w] - pos[i]
        if np.linalg.norm(v_in) < 0.8 or np.linalg.norm(v_out) < 0.8:
            continue
        cross = v_in[0] * v_out[1] - v_in[1] * v_out[0]
        ang = np.degrees(np.arctan2(cross, float(np.dot(v_in, v_out))))
        if abs(ang) > TURN_DEG:
            cands.append((i, ang))
    out, group = [], []
    for c in cands + [(None, 0)]:
        if group and (c[0] is None or c[0] - group[-1][0] > 1):
            i, ang = max(group, key=lambda t: abs(t[1]))
            if not out or start + i - out[-1]["frame"] >= w:
                out.append({"frame": start + i, "direction": "left" if ang > 0 else "right",
                            "angle": round(abs(float(ang)), 1)})
            group = []
        if c[0] is not None:
            group.append(c)
    return out


def trajectory_facts(track: dict, cam: Camera, fps: float, whole: dict | None = None) -> dict:
    """Facts for one target span. ``track`` measures the visible mask (entry/exit sides);
    ``whole`` (same frames) measures the target drawn alone, unoccluded, and drives the
    ground track, speeds and turns, so an occluder hiding the feet is not a jump in depth."""
    seen = np.flatnonzero(track["area"] > 0)
    start = track["start"]
    if seen.size == 0:
        return {"entry_side": "inside", "exit_side": "inside", "turns": [], "speed_states": []}
    i, j = int(seen[0]), int(seen[-1])
    k = max(1, int(round(0.5 * fps)))
    motion = whole if whole is not None else track
    pos = ground_track(motion, cam, fps)
    box = track["bbox"]

    def centre(t: int) -> list[float]:
        return [round(float((box[t][0] + box[t][2]) / 2 / cam.width), 3),
                round(float((box[t][1] + box[t][3]) / 2 / cam.height), 3)]

    return {
        "entry_side": _side(track, i, min(j, i + k), cam.width, cam.height, True),
        "exit_side": _side(track, j, max(i, j - k), cam.width, cam.height, False),
        "turns": turns(pos, fps, start),
        "speed_states": speed_states(pos, fps, start, usable(motion, cam.width, cam.height)),
        "start_center": centre(i), "end_center": centre(j),
        "distance_m": round(float(np.linalg.norm(np.diff(pos, axis=0), axis=1).sum()), 1),
    }
