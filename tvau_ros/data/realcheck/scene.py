"""What the builder knows about the scene, learnt from the usable frames only: background,
foreground blobs per frame, person height per row, a ground-plane camera and the walkway
(paved ground near where people were seen walking)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from tvau_ros.data.realcheck.background import SEED_DIFF, Blob, find_blobs, median_background
from tvau_ros.data.realcheck.geometry import PersonHeight, fit_camera, fit_person_height
from tvau_ros.data.realcheck.sprites import ASPECT, is_person_shaped
from tvau_ros.data.synthetic.camera import Camera

PAVED_SATURATION = 60     # HSV saturation below which ground counts as paving, not lawn
WALKWAY_REACH = 0.35      # walkway extends this many person heights around seen feet
OCCLUDER_GAPS = ((5, 12), (10, 24))   # px: widths of poles and signs people pass behind


class SceneError(ValueError):
    """The footage does not show what the builder needs (people at several distances, paving)."""


@dataclass
class SceneFacts:
    width: int
    height: int
    fps: float
    background: np.ndarray
    blobs: list[list[Blob]]   # per source frame, frame 0 first
    line: PersonHeight
    camera: Camera
    walkway: np.ndarray       # (H, W) bool: paving near where people walked
    paved: np.ndarray         # (H, W) bool: all grey ground (plaza, roads, car parks)
    occluder_base: np.ndarray  # (H, W) int: row of the ground contact of a static occluder, 0 = none
    occluder_feet: np.ndarray  # (K, 2) pixel (u, v) where each static occluder stands

    def hidden(self, frame: np.ndarray, source_frame: int, foot_v: float, box: tuple[int, int, int, int]) -> np.ndarray:
        """Pixels that hide something standing at row ``foot_v`` with image ``box``: static
        structures (lamp posts, signs) and the bodies of real people whose feet are nearer
        the camera (lower in the image). A body is its blob's pixels that differ strongly
        from the background, so its faint rim and ground shadow do not hide anything."""
        hidden = self.occluder_base > foot_v
        x0, y0, x1, y1 = box
        for b in self.blobs[source_frame]:
            if b.y1 <= foot_v or b.x1 <= x0 or b.x0 >= x1 or b.y1 <= y0 or b.y0 >= y1:
                continue
            diff = cv2.absdiff(frame[b.y0:b.y1, b.x0:b.x1], self.background[b.y0:b.y1, b.x0:b.x1]).max(axis=2)
            body = cv2.morphologyEx((b.mask & (diff > SEED_DIFF)).astype(np.uint8), cv2.MORPH_CLOSE,
                                    np.ones((3, 3), np.uint8))
            hidden[b.y0:b.y1, b.x0:b.x1] |= ndimage.binary_fill_holes(body)
        return hidden

    @cached_property
    def walkway_pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the walkway pixels."""
        return np.nonzero(self.walkway)

    def ground_feet(self, frame: int) -> np.ndarray:
        """Ground points (K, 2) under the real objects of source ``frame``: three along the
        bottom of each blob, so a group's width counts (noise blobs left out)."""
        cache = self.__dict__.setdefault("_ground_feet", {})
        if frame not in cache:
            feet = np.array([(b.x0 + a * b.width, b.y1) for b in self.blobs[frame]
                             if b.area >= 0.05 * self.line.at(b.y1) ** 2 for a in (0.2, 0.5, 0.8)],
                            float).reshape(-1, 2)
            cache[frame] = np.stack(self.ground(feet[:, 0], feet[:, 1]), -1)
        return cache[frame]

    def ground(self, u: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        return self.camera.ground_from_pixel(u, v)

    def image(self, x: ArrayLike, z: ArrayLike) -> np.ndarray:
        """Pixel (u, v) of ground point(s) (x, z): shape (..., 2)."""
        x, z = np.broadcast_arrays(np.asarray(x, float), np.asarray(z, float))
        uv, _ = self.camera.project(np.stack([x, np.zeros_like(x), z], -1).reshape(-1, 3))
        return uv.reshape(x.shape + (2,))

    def on_walkway(self, uv: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Whether each pixel (u, v) lies on the walkway (or on ``mask``)."""
        mask = self.walkway if mask is None else mask
        uv = np.atleast_2d(uv)
        u, v = np.rint(uv[:, 0]).astype(int), np.rint(uv[:, 1]).astype(int) - 1
        inside = (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
        out = np.zeros(len(uv), bool)
        out[inside] = mask[v[inside], u[inside]]
        return out

    def person_blobs(self, frame: int) -> list[Blob]:
        """Blobs of ``frame`` shaped and sized like one standing person, off the border."""
        return [b for b in self.blobs[frame] if is_person_shaped(b, self.line, self.width, self.height)]

    def collides(self, frame: int, box: tuple, foot_v: float, reach: float = 0.3) -> bool:
        """Whether something pasted with ``box`` and feet at row ``foot_v`` would stand in
        the same place as a real object of source frame ``frame`` (boxes overlap, feet within
        ``reach`` person heights of rows): a pasted person must not walk through a real one."""
        x0, y0, x1, y1 = box
        reach = reach * self.line.at(foot_v)
        for b in self.blobs[frame]:
            if b.area < 0.15 * self.line.at(b.y1) ** 2 / 3.0:
                continue
            if b.x0 < x1 and x0 < b.x1 and b.y0 < y1 and y0 < b.y1 and abs(b.y1 - foot_v) < reach:
                return True
        return False


def _upright_blobs(blobs: list[list[Blob]], width: int, height: int) -> list[Blob]:
    return [b for frame in blobs for b in frame
            if ASPECT[0] <= b.height / max(1, b.width) <= ASPECT[1] and not b.touches_border(width, height)]


def paved_mask(background: np.ndarray) -> np.ndarray:
    """Grey (unsaturated) ground: paving, roads, as opposed to lawn."""
    sat = cv2.cvtColor(background, cv2.COLOR_BGR2HSV)[..., 1]
    paved = (sat < PAVED_SATURATION).astype(np.uint8)
    paved = cv2.morphologyEx(paved, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return cv2.morphologyEx(paved, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)) > 0


def walkway_mask(paved: np.ndarray, feet: np.ndarray, line: PersonHeight) -> np.ndarray:
    """Paved ground within reach of where people's feet were seen."""
    near = np.zeros(paved.shape, np.uint8)
    for u, v in feet:
        cv2.circle(near, (int(u), int(v)), max(2, int(WALKWAY_REACH * line.at(v))), 1, -1)
    return paved & (near > 0)


def _foreground_rate(blobs: list[list[Blob]], height: int, width: int) -> np.ndarray:
    rate = np.zeros((height, width), np.float32)
    for frame in blobs:
        for b in frame:
            rate[b.y0:b.y1, b.x0:b.x1] += b.mask
    return rate / max(1, len(blobs))


def _grow_by_colour(background: np.ndarray, seed: np.ndarray, x0: int, y0: int, reach: int = 12) -> np.ndarray:
    """Extend each row of ``seed`` (a box at x0, y0) sideways over pixels coloured like the
    seed and unlike the ground beside the box (so a sign is filled, the pavement is not)."""
    bgf = background.astype(np.float32)
    h, w = seed.shape
    width = background.shape[1]
    a, b = max(0, x0 - reach), min(width, x0 + w + reach)
    grown = np.zeros((h, b - a), bool)
    for r in range(h):
        cols = np.flatnonzero(seed[r]) + x0 - a
        if not len(cols):
            continue
        row = bgf[y0 + r, a:b]
        like_seed = np.abs(row[:, None] - row[cols][None]).max(2).min(1) < 16
        flank = np.concatenate([bgf[y0 + r, max(0, a - 14):a], bgf[y0 + r, b:b + 14]])
        if len(flank):
            like_seed &= np.abs(row[:, None] - flank[None]).max(2).min(1) > 18
        like_seed[cols] = True
        runs, _ = ndimage.label(like_seed)
        grown[r] = np.isin(runs, runs[cols])
    full = np.zeros((h, width), bool)
    full[:, a:b] = ndimage.binary_fill_holes(grown)
    return full


def _base_row(background: np.ndarray, c0: int, c1: int, bottom: int, patience: int = 8) -> int:
    """Follow a structure down from ``bottom`` while its columns c0..c1 still contrast
    with the ground on both sides: the row where it stands on the ground."""
    bgf = background.astype(np.float32)
    height, width = background.shape[:2]
    w = c1 - c0
    r, quiet = bottom, 0
    while r + 1 < height and quiet < patience:
        r += 1
        mid = bgf[r, c0:c1].mean(0)
        left, right = bgf[r, max(0, c0 - w - 4):max(1, c0 - 3)], bgf[r, min(width - 1, c1 + 3):c1 + w + 4]
        if not len(left) or not len(right):
            break
        contrast = min(np.abs(mid - left.mean(0)).max(), np.abs(mid - right.mean(0)).max())
        quiet = quiet + 1 if contrast < 12 else 0
    return r - quiet


def static_occluders(blobs: list[list[Blob]], background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poles and signs that people walked behind: a map of the row where each stands (0
    elsewhere) and the pixel (u, v) of each one's foot. Found where the foreground never shows
    although it often does a few pixels to the left and to the right (people passing behind a thin structure), grown
    over the structure's colour and followed down to its foot."""
    height, width = background.shape[:2]
    rate = _foreground_rate(blobs, height, width)
    seeds = np.zeros((height, width), bool)
    for lo, hi in OCCLUDER_GAPS:
        left = np.max([np.roll(rate, s, axis=1) for s in range(lo, hi + 1)], axis=0)
        right = np.max([np.roll(rate, -s, axis=1) for s in range(lo, hi + 1)], axis=0)
        busy = np.minimum(left, right)
        seeds |= (busy > 0.015) & (rate < 0.3 * busy)
    seeds = cv2.morphologyEx(seeds.astype(np.uint8), cv2.MORPH_OPEN, np.ones((9, 1), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(seeds)
    base = np.zeros((height, width), np.int32)
    feet = []
    for j in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[j])
        seed = labels[y:y + h, x:x + w] == j
        grown = _grow_by_colour(background, seed, x, y)
        cols = np.flatnonzero(seed[-1]) + x
        foot = _base_row(background, int(cols.min()), int(cols.max()) + 1, y + h - 1)
        region = np.zeros((height, width), bool)
        region[y:y + h] = grown
        region[y + h - 1:foot + 1, cols.min():cols.max() + 1] = True
        base[region] = np.maximum(base[region], foot)
        feet.append(((cols.min() + cols.max()) / 2.0, float(foot)))
    return base, np.array(feet, float).reshape(-1, 2)


def learn_scene(frames: np.ndarray, fps: float) -> SceneFacts:
    """Scene facts from the usable frames (N, H, W, 3) BGR, frame 0 first."""
    height, width = frames.shape[1:3]
    background = median_background(frames[::4])
    blobs = [find_blobs(f, background) for f in frames]
    upright = _upright_blobs(blobs, width, height)
    try:
        line = fit_person_height(np.array([b.y1 for b in upright]), np.array([b.height for b in upright]))
        camera = fit_camera(line, width, height)
    except ValueError as exc:
        raise SceneError(f"cannot tell the scene's scale: {exc}") from None
    feet = np.array([b.foot for b in upright if is_person_shaped(b, line, width, height)]).reshape(-1, 2)
    paved = paved_mask(background)
    walkway = walkway_mask(paved, feet, line)
    if walkway.sum() < 0.01 * width * height:
        raise SceneError(f"walkway covers {walkway.mean():.1%} of the view: too little paved ground "
                         f"where people walk to place composites")
    return SceneFacts(width, height, fps, background, blobs, line, camera, walkway, paved,
                      *static_occluders(blobs, background))


def longest_still_s(facts: SceneFacts, window_s: float = 2.0, still_heights: float = 0.25) -> float:
    """Longest time a tracked real person stays put in the footage (feet moving less than
    ``still_heights`` body heights over every ``window_s``): what counts as a normal stop."""
    from tvau_ros.data.realcheck.sprites import link_tracks

    win = max(1, int(round(window_s * facts.fps)))
    best = 0
    for track in link_tracks(facts.blobs):
        if len(track) <= win:
            continue
        feet = np.array([facts.blobs[t][j].foot for t, j in track])
        heights = facts.line.at(feet[:, 1])
        moved = np.hypot(*(feet[win:] - feet[:-win]).T) / heights[win:]
        run = 0
        for still in moved < still_heights:
            run = run + 1 if still else 0
            if run:
                best = max(best, run + win)
    return round(best / facts.fps, 1) if best else 0.0
