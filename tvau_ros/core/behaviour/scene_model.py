"""A scene's normal: what a waypoint's camera sees when nothing is wrong, and how far from it
an object's behaviour is.

Fitted from the object tracks of normal footage (``SceneModel.fit``):

* a size model: the height in pixels of a person standing at each image row (a straight line
  in the foot row on a flat ground seen in perspective), so lengths and speeds are in body
  heights wherever the object is;
* where objects go: foot-point occupancy on a 12x16 grid, separately for person-sized and
  large objects, and the direction people move in each cell (8 bins);
* the distribution of every behaviour attribute (``attributes.ATTRIBUTES``), per size class:
  its 1st, 50th and 99th percentiles, and the number of samples;
* the background image, to recognise the camera it was learnt on.

A value is scored by how far it lies beyond the normal percentile on the abnormal side, in
units of the normal spread (``excess``), mapped to [0, 1] by a logistic whose midpoint (0.5)
is the anomaly threshold; scores are therefore comparable across scenes and cameras. Place and
heading surprises are computed leaving each track's own counts out, so that the normal
percentiles are those of an unseen track.

A *generic* model (no scene) has no size model, maps or background: lengths are in the
track's own height and only scene-independent attributes are scored.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tvau_ros.core.behaviour.attributes import ATTRIBUTES, GEOMETRY, measure
from tvau_ros.core.behaviour.objects import ObjectTrack, Observation

GRID = (12, 16)                    # rows, columns of the place / heading maps
HEADING_BINS = 8
CLASSES = ("person", "large")
FORMAT_VERSION = 1
MIN_CLASS_SAMPLES = 50             # fewer samples of a size class: use the pooled percentiles
MIN_HEADING_SAMPLES = 8            # fewer moves seen in a cell: its heading is not scored


class SceneModelError(ValueError):
    """A scene model file is missing, unreadable or does not fit this camera; names the file."""


@dataclass
class Scoring:
    excess_at_half: float = 1.0    # excess (in normal spreads beyond the 99th percentile) scoring 0.5
    excess_width: float = 0.2      # logistic width: excess_at_half +- 2 widths spans 0.12 .. 0.88

    def score(self, excess: float) -> float:
        return 1.0 / (1.0 + math.exp(-(excess - self.excess_at_half) / self.excess_width))


_DEFAULT_SCORING = Scoring()   # one shared default (score() only reads it)


@dataclass
class TrackRecord:
    """What learning keeps of one track: its observations, to replay through ``measure``."""

    key: str
    observations: list[Observation] = field(default_factory=list)


@dataclass
class SceneModel:
    name: str
    quantiles: dict[str, np.ndarray]                 # "attr/class" -> [q01, q50, q99, n]
    work_size: tuple[int, int] | None = None         # (h, w) the model was learnt at
    size_coef: tuple[float, float] | None = None     # person height px = a * foot_y + b
    place: np.ndarray | None = None                  # (2, 12, 16) foot counts per size class
    heading: np.ndarray | None = None                # (12, 16, 8) move directions of person-sized objects
    background: np.ndarray | None = None             # (h, w, 3) uint8
    card: dict = field(default_factory=dict)
    _maps: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def empty(cls, name: str = "none") -> SceneModel:
        """A model that knows nothing: every object scores 0 (for learning the first models)."""
        return cls(name, {}, card={"scene": name, "generic": True, "samples": 0})

    @property
    def generic(self) -> bool:
        return self.size_coef is None

    # ------------------------------------------------------------ geometry

    def reference_height(self) -> Callable[[float], float] | None:
        if self.size_coef is None:
            return None
        a, b = self.size_coef
        floor = 0.03 * self.work_size[0]
        return lambda foot_y: max(floor, a * foot_y + b)

    def _cell(self, x: float, y: float) -> tuple[int, int]:
        h, w = self.work_size
        return (min(GRID[0] - 1, max(0, int(y / h * GRID[0]))), min(GRID[1] - 1, max(0, int(x / w * GRID[1]))))

    # ------------------------------------------------------------ scoring

    def place_surprise(self, x: float, y: float, large: bool, own: np.ndarray | None = None) -> float:
        """How rarely objects of this size class stand at (x, y): log10 of the mean occupied
        cell's count over this cell's (blurred, +1)."""
        if self.place is None:
            return math.nan
        if own is None:
            blurred, mean = self._runtime_maps()["place"][int(large)]
        else:
            blurred = _blur(self.place[int(large)] - own[int(large)])
            occupied = blurred[blurred > 0.5]
            mean = float(occupied.mean()) if occupied.size else 1.0
        r, c = self._cell(x, y)
        return math.log10((mean + 1.0) / (blurred[r, c] + 1.0))

    def heading_surprise(self, x: float, y: float, hx: float, hy: float, own: np.ndarray | None = None) -> float:
        """-log10 of the share of people moving in this direction in this cell (NaN where
        too few moves were seen)."""
        if self.heading is None or math.isnan(hx):
            return math.nan
        r, c = self._cell(x, y)
        blurred = self._runtime_maps()["heading"] if own is None else _blur(self.heading - own)
        cell = blurred[r, c]
        if cell.sum() < MIN_HEADING_SAMPLES:
            return math.nan
        b = _heading_bin(hx, hy)
        return -math.log10((cell[b] + 0.5) / (cell.sum() + 0.5 * HEADING_BINS))

    def prepare(self) -> None:
        """Compute what scoring reads (the blurred maps) now, not on the first object a node
        sees mid-stream (the first blur imports scipy.ndimage: 70 ms)."""
        if self.place is not None:
            self._runtime_maps()

    def _runtime_maps(self) -> dict:
        """The blurred maps, computed once (the maps do not change after fitting)."""
        if not self._maps:
            place = []
            for counts in self.place:
                blurred = _blur(counts)
                occupied = blurred[blurred > 0.5]
                place.append((blurred, float(occupied.mean()) if occupied.size else 1.0))
            self._maps.update(place=place, heading=_blur(self.heading))
        return self._maps

    def excess(self, name: str, value: float, large: bool) -> float:
        """How far ``value`` lies beyond this scene's normal on the abnormal side, in normal spreads."""
        attribute = ATTRIBUTES[name]
        q = self.quantiles.get(f"{name}/{CLASSES[int(large)]}")
        if q is None or q[3] < MIN_CLASS_SAMPLES:
            q = self.quantiles.get(f"{name}/all")
        if q is None or q[3] < 1:
            return math.nan
        q01, q50, q99 = float(q[0]), float(q[1]), float(q[2])
        if attribute.tail == "upper":
            return (value - q99) / max(q99 - q50, attribute.floor)
        return (q01 - value) / max(q50 - q01, attribute.floor)

    def complete(self, values: dict[str, float]) -> dict[str, float]:
        """Add the map-based attributes (place, heading) to ``measure``'s values."""
        large = bool(values.get("large") or 0.0)
        values["unusual_place"] = self.place_surprise(values["foot_x"], values["foot_y"], large)
        values["against_flow"] = self.heading_surprise(values["foot_x"], values["foot_y"],
                                                       values["heading_x"], values["heading_y"])
        return values

    def excesses(self, values: dict[str, float], enabled: Iterable[str] | None = None) -> dict[str, float]:
        """Each measured attribute's excess over this scene's normal (``excess``)."""
        large = bool(values.get("large") or 0.0)
        out = {}
        for name in (enabled if enabled is not None else ATTRIBUTES):
            value = values.get(name, math.nan)
            if value is not None and not math.isnan(value):
                excess = self.excess(name, value, large)
                if not math.isnan(excess):
                    out[name] = excess
        return out

    def score(self, values: dict[str, float], scoring: Scoring = _DEFAULT_SCORING,
              enabled: Iterable[str] | None = None) -> tuple[float, str, float]:
        """(score in [0, 1], the attribute that gives it, its value) for one sample of a track."""
        excesses = self.excesses(values, enabled)
        if not excesses:
            return 0.0, "", math.nan
        name = max(excesses, key=excesses.get)
        return scoring.score(excesses[name]), name, values[name]

    # ------------------------------------------------------------ fitting

    @classmethod
    def fit(cls, records: list[TrackRecord], name: str, work_size: tuple[int, int] | None,
            background: np.ndarray | None = None, generic: bool = False, card: dict | None = None) -> SceneModel:
        """Learn from the tracks of normal footage (``generic``: no size model, maps or background)."""
        model = cls(name, {}, None if generic else tuple(work_size), None, None, None,
                    None if generic else background, dict(card or {}))
        if not generic:
            model.size_coef = fit_size_model(records, work_size)
        height = work_size[0] if work_size else 240
        samples, keys = _replay(records, model.reference_height(), 0.04 * height)
        if not samples:
            raise SceneModelError(f"scene model {name!r}: no track lived long enough to learn from")
        columns = {k: np.array([s[k] for s in samples], np.float64) for k in samples[0]}
        keys = np.array(keys)
        if not generic:
            _fit_maps(model, columns, keys)
        large = columns["large"] > 0.5
        for attribute in ATTRIBUTES:
            values = columns[attribute]
            for cls_name, chosen in (("all", np.ones_like(large)), ("person", ~large), ("large", large)):
                v = values[chosen & ~np.isnan(values)]
                model.quantiles[f"{attribute}/{cls_name}"] = (
                    np.array([*np.percentile(v, [1, 50, 99]), v.size]) if v.size else np.array([0, 0, 0, 0.0]))
        model.card.update(scene=name, generic=generic, samples=len(samples), tracks=len(records),
                          learnt=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                          format_version=FORMAT_VERSION)
        return model

    # ------------------------------------------------------------ files

    def save(self, path: str | Path) -> Path:
        """``path``.safetensors (arrays) and ``path``.yaml (the card: scene, frames, statistics, date)."""
        import yaml
        from safetensors.numpy import save_file

        path = Path(path).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"q/{k}": v.astype(np.float64) for k, v in self.quantiles.items()}
        if not self.generic:
            tensors.update(size_coef=np.array(self.size_coef, np.float64), place=self.place.astype(np.float32),
                           heading=self.heading.astype(np.float32), work_size=np.array(self.work_size, np.int64))
            if self.background is not None:
                tensors["background"] = self.background.astype(np.uint8)
        save_file(tensors, str(path), metadata={"format": "tvau_scene_model", "version": str(FORMAT_VERSION),
                                                "name": self.name})
        card = dict(self.card)
        card["attributes"] = {k: {"q01": round(float(v[0]), 4), "q50": round(float(v[1]), 4),
                                  "q99": round(float(v[2]), 4), "samples": int(v[3])}
                              for k, v in sorted(self.quantiles.items()) if k.endswith("/all")}
        if self.size_coef is not None:
            card["person_height_px"] = {"per_foot_row": round(self.size_coef[0], 4),
                                        "at_row_0": round(self.size_coef[1], 2)}
            card["work_size"] = list(self.work_size)
        path.with_suffix(".yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> SceneModel:
        """Read a model saved by ``save``; a missing, corrupt or foreign file is a SceneModelError naming it."""
        import yaml
        from safetensors import SafetensorError
        from safetensors.numpy import safe_open

        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        if not path.is_file():
            raise SceneModelError(f"scene model not found: {path}")
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("format") != "tvau_scene_model":
                    raise SceneModelError(f"{path} is not a tvau scene model (format {meta.get('format')!r})")
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as exc:
            if isinstance(exc, SceneModelError):
                raise
            raise SceneModelError(f"scene model {path} cannot be read: {exc}".splitlines()[0]) from None
        card_path = path.with_suffix(".yaml")
        card = {}
        if card_path.is_file():
            try:
                card = yaml.safe_load(card_path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                message = f"scene model card {card_path} is not valid YAML: {exc}".splitlines()[0]
                raise SceneModelError(message) from None
        quantiles = {k[2:]: v for k, v in tensors.items() if k.startswith("q/")}
        missing = [f"{a}/all" for a in ATTRIBUTES if f"{a}/all" not in quantiles]
        if missing:
            raise SceneModelError(f"scene model {path} lacks attributes {missing} (made by another version?)")
        generic = "size_coef" not in tensors
        return cls(meta.get("name", path.stem), quantiles,
                   None if generic else tuple(int(v) for v in tensors["work_size"]),
                   None if generic else tuple(float(v) for v in tensors["size_coef"]),
                   tensors.get("place"), tensors.get("heading"), tensors.get("background"), card)

    def camera_mismatch(self, background: np.ndarray) -> str:
        """Why this model does not fit a camera whose background is ``background`` ('' = it fits)."""
        if self.generic or self.background is None:
            return ""
        if background.shape != self.background.shape:
            h, w = self.background.shape[:2]
            return f"learnt at {w}x{h}, the camera gives {background.shape[1]}x{background.shape[0]}"
        a = background.astype(np.float32).mean(2)
        b = self.background.astype(np.float32).mean(2)
        a, b = (a - a.mean()) / (a.std() + 1e-6), (b - b.mean()) / (b.std() + 1e-6)
        correlation = float((a * b).mean())
        return "" if correlation >= 0.5 else f"the background does not match (correlation {correlation:.2f})"


def _heading_bin(hx: float, hy: float) -> int:
    return int(round(math.atan2(hy, hx) / (2 * math.pi / HEADING_BINS))) % HEADING_BINS


def _blur(counts: np.ndarray) -> np.ndarray:
    """Counts spread over the 5x5 neighbouring cells (weights falling off with distance) along
    the first two (grid) axes: maps learnt from a few minutes of footage have holes between the
    paths people happened to take."""
    from scipy.ndimage import convolve

    kernel = np.exp(-np.add.outer(np.arange(-2, 3) ** 2, np.arange(-2, 3) ** 2) / 2.0)
    if counts.ndim == 3:
        kernel = kernel[:, :, None]
    return convolve(counts.astype(np.float64), kernel, mode="constant")


def fit_size_model(records: list[TrackRecord], work_size: tuple[int, int]) -> tuple[float, float]:
    """Person height in pixels against the foot row: a weighted line through the median box
    height of person-shaped, uncut boxes in 12 bands of foot rows."""
    rows, heights = [], []
    for record in records:
        for o in record.observations:
            if not o.on_border and o.box[2] <= 0.8 * o.box[3]:
                rows.append(o.box[1] + o.box[3])
                heights.append(o.box[3])
    h = work_size[0]
    if len(rows) < 20:
        return 0.0, 0.2 * h  # too little to learn: one height everywhere
    rows, heights = np.array(rows, float), np.array(heights, float)
    bands = np.clip((rows / h * 12).astype(int), 0, 11)
    xs, ys, ws = [], [], []
    for band in np.unique(bands):
        chosen = bands == band
        if chosen.sum() >= 5:
            xs.append(float(np.median(rows[chosen])))
            ys.append(float(np.median(heights[chosen])))
            ws.append(float(np.sqrt(chosen.sum())))
    if len(xs) < 2:
        return 0.0, float(np.median(heights))
    a, b = np.polyfit(xs, ys, 1, w=ws)
    return float(max(a, 0.0)), float(b) if a >= 0 else float(np.median(heights))


def _replay(records: list[TrackRecord], reference: Callable | None,
            min_height_px: float) -> tuple[list[dict], list[str]]:
    """Each track's observations fed again one by one, measured as the engine measures them."""
    samples, keys = [], []
    for record in records:
        track = ObjectTrack(1, first_s=record.observations[0].stamp_s)
        for observation in record.observations:
            track.history.append(observation)
            if track.age_s < 0.3:
                continue
            samples.append(measure(track, reference, min_height_px))
            keys.append(record.key)
    return samples, keys


def _fit_maps(model: SceneModel, columns: dict[str, np.ndarray], keys: np.ndarray) -> None:
    place = np.zeros((2, *GRID))
    heading = np.zeros((*GRID, HEADING_BINS))
    own_place: dict[str, np.ndarray] = {}
    own_heading: dict[str, np.ndarray] = {}
    cells = [model._cell(x, y) for x, y in zip(columns["foot_x"], columns["foot_y"], strict=True)]
    for i, (r, c) in enumerate(cells):
        k, large = keys[i], int(columns["large"][i] > 0.5)
        own_place.setdefault(k, np.zeros_like(place))[large, r, c] += 1
        if not math.isnan(columns["heading_x"][i]) and not large:
            own_heading.setdefault(k, np.zeros_like(heading))[r, c, _heading_bin(columns["heading_x"][i],
                                                                                   columns["heading_y"][i])] += 1
    for counts in own_place.values():
        place += counts
    for counts in own_heading.values():
        heading += counts
    model.place, model.heading = place, heading
    zero_h = np.zeros_like(heading)
    # surprise of each sample with its own track's counts left out: as an unseen track
    columns["unusual_place"] = np.array([
        model.place_surprise(x, y, bool(lg > 0.5), own_place[k])
        for x, y, lg, k in zip(columns["foot_x"], columns["foot_y"], columns["large"], keys, strict=True)])
    columns["against_flow"] = np.array([
        model.heading_surprise(x, y, hx, hy, own_heading.get(k, zero_h)) if lg < 0.5 else math.nan
        for x, y, hx, hy, lg, k in zip(columns["foot_x"], columns["foot_y"], columns["heading_x"],
                                        columns["heading_y"], columns["large"], keys, strict=True)])


__all__ = ["SceneModel", "SceneModelError", "Scoring", "TrackRecord", "GEOMETRY", "fit_size_model"]
