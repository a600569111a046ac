"""Cut-outs of real pedestrians: isolated walkers tracked over a second or more.

Blobs are linked frame to frame by overlap; a track's frames count as *clean* when its blob
is one person (person-shaped, as tall as a person at that row, area steady along the
track), away from the frame border and from every other blob. A run of clean frames long
enough, moving like a walker, becomes a :class:`Sprite`: per frame its pixels, mask and
foot point, so it can be replayed anywhere at the right scale.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvau_ros.data.realcheck.background import Blob
from tvau_ros.data.realcheck.geometry import PersonHeight

ASPECT = (1.7, 4.6)            # height / width of one upright person
HEIGHT_TOLERANCE = (0.75, 1.3)  # blob height against the person height at its row
AREA_STEP = 0.3                 # largest relative area change between consecutive frames
CLEARANCE = 0.35                # free margin around the blob, in its heights


@dataclass
class SpriteFrame:
    source_frame: int
    pixels: np.ndarray          # (h, w, 3) BGR crop of the blob's box
    mask: np.ndarray            # (h, w) bool
    foot: tuple[float, float]   # (u, v) in the source frame
    box: tuple[int, int, int, int]

    @property
    def height(self) -> int:
        return self.mask.shape[0]

    def foot_in_crop(self) -> tuple[float, float]:
        return self.foot[0] - self.box[0], float(self.mask.shape[0])


@dataclass
class Sprite:
    """One isolated walker's consecutive frames from the source footage."""

    sprite_id: int
    frames: list[SpriteFrame] = field(default_factory=list)

    @property
    def source_frames(self) -> tuple[int, int]:
        return self.frames[0].source_frame, self.frames[-1].source_frame

    def velocity(self, fps: float) -> tuple[float, float]:
        """Mean image velocity of the foot point, px/s."""
        (u0, v0), (u1, v1) = self.frames[0].foot, self.frames[-1].foot
        dt = max(1, len(self.frames) - 1) / fps
        return (u1 - u0) / dt, (v1 - v0) / dt

    def speed_heights_per_s(self, fps: float, line: PersonHeight) -> float:
        vu, vv = self.velocity(fps)
        mean_h = float(np.mean([line.at(f.foot[1]) for f in self.frames]))
        return float(np.hypot(vu, vv)) / mean_h

    def standing_index(self) -> int:
        """Index of the frame whose silhouette is narrowest near the feet (legs together)."""
        widths = []
        for f in self.frames:
            legs = f.mask[int(0.75 * f.height):]
            cols = np.flatnonzero(legs.any(0))
            widths.append((cols[-1] - cols[0] + 1) / f.height if len(cols) else 1.0)
        return int(np.argmin(widths))


def _iou(a: Blob, b: Blob) -> float:
    ix = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / float(a.width * a.height + b.width * b.height - inter)


def link_tracks(blobs_per_frame: list[list[Blob]], min_iou: float = 0.3) -> list[list[tuple[int, int]]]:
    """Tracks as lists of (frame offset, blob index): greedy best-overlap linking, a blob
    continues at most one track, no gaps."""
    tracks: list[list[tuple[int, int]]] = []
    active: dict[int, int] = {}  # blob index in previous frame -> track index
    for t, blobs in enumerate(blobs_per_frame):
        prev = blobs_per_frame[t - 1] if t else []
        pairs = sorted(((_iou(prev[i], b), i, j) for i in active for j, b in enumerate(blobs)), reverse=True)
        taken_prev, now = set(), {}
        for iou, i, j in pairs:
            if iou < min_iou or i in taken_prev or j in now:
                continue
            taken_prev.add(i)
            now[j] = active[i]
            tracks[active[i]].append((t, j))
        for j in range(len(blobs)):
            if j not in now:
                now[j] = len(tracks)
                tracks.append([(t, j)])
        active = now
    return tracks


def is_person_shaped(blob: Blob, line: PersonHeight, width: int, height: int) -> bool:
    """Upright, as tall as a person standing at its row, off the frame border."""
    if blob.touches_border(width, height, margin=3):
        return False
    if not ASPECT[0] <= blob.height / max(1, blob.width) <= ASPECT[1]:
        return False
    expected = line.at(blob.y1)
    return HEIGHT_TOLERANCE[0] * expected <= blob.height <= HEIGHT_TOLERANCE[1] * expected


def _clean(blob: Blob, others: list[Blob], line: PersonHeight, width: int, height: int) -> bool:
    if not is_person_shaped(blob, line, width, height):
        return False
    pad = CLEARANCE * blob.height
    return not any(o is not blob and o.x0 < blob.x1 + pad and blob.x0 - pad < o.x1
                   and o.y0 < blob.y1 + pad and blob.y0 - pad < o.y1 for o in others)


def extract_sprites(frames: np.ndarray, first_frame: int, blobs_per_frame: list[list[Blob]],
                    line: PersonHeight, fps: float, min_frames: int = 10,
                    min_speed: float = 0.35) -> list[Sprite]:
    """Sprites of isolated walkers from ``frames`` (source frames ``first_frame`` onward).

    A sprite is a run of at least ``min_frames`` clean frames of one track whose feet move
    at ``min_speed`` body heights per second or more (people walk at about 0.8).
    """
    height, width = frames.shape[1:3]
    sprites: list[Sprite] = []
    for track in link_tracks(blobs_per_frame):
        run: list[tuple[int, Blob]] = []
        for _k, (t, j) in enumerate(track + [(-1, -1)]):
            blob = blobs_per_frame[t][j] if t >= 0 else None
            ok = blob is not None and _clean(blob, blobs_per_frame[t], line, width, height)
            if ok and run:
                ok = abs(blob.area - run[-1][1].area) <= AREA_STEP * run[-1][1].area
            if ok:
                run.append((t, blob))
                continue
            if len(run) >= min_frames:
                sprite = Sprite(len(sprites), [SpriteFrame(first_frame + t, frames[t, b.y0:b.y1, b.x0:b.x1].copy(),
                                                            b.mask.copy(), b.foot, (b.x0, b.y0, b.x1, b.y1))
                                               for t, b in run])
                if sprite.speed_heights_per_s(fps, line) >= min_speed:
                    sprites.append(sprite)
            run = [(t, blob)] if blob is not None and _clean(blob, blobs_per_frame[t], line, width, height) else []
    for i, s in enumerate(sprites):
        s.sprite_id = i
    return sprites
