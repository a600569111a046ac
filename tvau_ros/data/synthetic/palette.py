"""Colour names (the one fixed palette used in meta.json) and appearance sampling.

Colours are BGR (OpenCV order). Each name has a few shades so people differ while the
name stays right.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COLOR_NAMES = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue",
               "purple", "pink", "brown")

SHADES_BGR = {
    "black": [(25, 25, 25), (40, 35, 35), (30, 30, 45)],
    "white": [(235, 235, 235), (220, 225, 230), (245, 245, 240)],
    "gray": [(128, 128, 128), (100, 100, 100), (160, 160, 155)],
    "red": [(40, 40, 200), (30, 30, 170), (60, 50, 220)],
    "orange": [(20, 120, 240), (30, 140, 230), (10, 100, 220)],
    "yellow": [(30, 210, 235), (60, 220, 240), (20, 190, 220)],
    "green": [(50, 150, 40), (70, 170, 60), (40, 120, 30)],
    "blue": [(190, 90, 30), (160, 60, 20), (210, 120, 60)],
    "purple": [(140, 40, 110), (160, 60, 130), (120, 30, 90)],
    "pink": [(180, 150, 245), (190, 120, 240), (200, 170, 250)],
    "brown": [(40, 70, 120), (30, 55, 100), (50, 85, 140)],
}
TOP_WEIGHTS = {"black": 3, "white": 3, "gray": 2, "red": 2, "orange": 1, "yellow": 1, "green": 1.5,
               "blue": 3, "purple": 1, "pink": 1, "brown": 1}
BOTTOM_WEIGHTS = {"black": 4, "white": 1, "gray": 2.5, "red": 0.5, "orange": 0.2, "yellow": 0.2,
                  "green": 0.7, "blue": 4, "purple": 0.3, "pink": 0.3, "brown": 2}
SKIN_BGR = [(170, 200, 240), (140, 175, 225), (105, 140, 195), (70, 100, 150), (50, 70, 110)]
HAIR_BGR = [(20, 20, 25), (25, 45, 75), (60, 110, 170), (150, 150, 150), (30, 30, 60)]
ACCESSORIES = ("backpack", "hat", "umbrella", "bag")
ACCESSORY_PROB = {"backpack": 0.22, "hat": 0.15, "umbrella": 0.05, "bag": 0.18}
VEHICLE_COLORS = ("white", "black", "gray", "red", "blue", "yellow", "green")


def shade(name: str, rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(SHADES_BGR[name][rng.integers(len(SHADES_BGR[name]))], float)
    return tuple(int(c) for c in np.clip(base + rng.normal(0, 6, 3), 0, 255))


def _weighted(weights: dict[str, float], rng: np.random.Generator) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[rng.choice(len(names), p=p / p.sum())]


@dataclass
class Look:
    """A person's appearance: named colours for meta plus the BGR values drawn."""

    top_color: str
    bottom_color: str
    accessories: list[str]
    top_bgr: tuple
    bottom_bgr: tuple
    skin_bgr: tuple
    hair_bgr: tuple
    extra_bgr: dict = field(default_factory=dict)  # hat / umbrella / bag / backpack colours
    height_m: float = 1.72
    short_sleeves: bool = False

    def attributes(self) -> dict:
        return {"top_color": self.top_color, "bottom_color": self.bottom_color,
                "accessories": list(self.accessories)}


def sample_look(rng: np.random.Generator, accessories: list[str] | None = None) -> Look:
    top = _weighted(TOP_WEIGHTS, rng)
    bottom = _weighted(BOTTOM_WEIGHTS, rng)
    if accessories is None:
        accessories = [a for a in ACCESSORIES if rng.random() < ACCESSORY_PROB[a]]
    extra = {a: shade(COLOR_NAMES[rng.integers(len(COLOR_NAMES))], rng) for a in accessories}
    return Look(top, bottom, accessories, shade(top, rng), shade(bottom, rng),
                SKIN_BGR[rng.integers(len(SKIN_BGR))], HAIR_BGR[rng.integers(len(HAIR_BGR))],
                extra, float(np.clip(rng.normal(1.72, 0.08), 1.5, 1.95)), bool(rng.random() < 0.4))
