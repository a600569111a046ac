"""A small learnt person detector: splits groups that foreground merges, keeps people who stop.

Foreground blobs (``foreground``) work on any camera with no training, but people walking
together merge into one blob and a person who stands still fades into the background. This
CenterNet-style network (a centre heatmap, the box's log width and height and the centre's
sub-cell offset at stride 4) looks at the RGB frame and its grey change over ``MOTION_GAP``
frames; it is trained on the benchmark's training split only (``tvau train detector``), so it
is one source of objects next to the foreground, never the only one (``engine`` fuses them).

>>> detector = PersonDetector(PersonDetectorNet(width=8), threshold=0.3)
>>> frame = np.zeros((48, 64, 3), np.uint8)
>>> boxes, scores = detector.detect(frame, frame)
>>> boxes.shape[1], len(boxes) == len(scores)
(4, True)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4      # output cell, pixels
MOTION_GAP = 2  # frames between the frame and the earlier one of the motion channel


def network_input(frames: np.ndarray, earlier: np.ndarray) -> torch.Tensor:
    """``(n, 4, H, W)`` float input from RGB frames ``(n, H, W, 3)`` uint8 and the frames
    ``MOTION_GAP`` earlier: RGB in [0, 1] and the mean grey change."""
    rgb = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    before = torch.from_numpy(np.ascontiguousarray(earlier)).permute(0, 3, 1, 2).float() / 255.0
    return torch.cat([rgb, (rgb - before).mean(1, keepdim=True)], 1)


def _block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PersonDetectorNet(nn.Module):
    """Stride-4 features and a stride-8 dilated context (receptive field about 100 px, the
    tallest benchmark person is about 70 px), fused; a 1x1 head of 5 channels.

    >>> tuple(PersonDetectorNet(width=8)(torch.zeros(1, 4, 240, 320)).shape)
    (1, 5, 60, 80)
    """

    def __init__(self, width: int = 32):
        super().__init__()
        self.width = width
        self.down4 = nn.Sequential(_block(4, width // 2, 2), _block(width // 2, width, 2), _block(width, width))
        self.down8 = nn.Sequential(_block(width, 2 * width, 2), _block(2 * width, 2 * width, dilation=2),
                                   _block(2 * width, 2 * width, dilation=4))
        self.fuse = _block(3 * width, 2 * width)
        self.head = nn.Conv2d(2 * width, 5, 1)
        with torch.no_grad():
            self.head.bias.zero_()
            self.head.bias[0] = -4.0  # a centre is rare: the heatmap starts near 0.02

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.down4(x)
        coarse = F.interpolate(self.down8(fine), size=fine.shape[-2:], mode="nearest")
        return self.head(self.fuse(torch.cat([fine, coarse], 1)))


@torch.no_grad()
def decode(out: torch.Tensor, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image, boxes ``(n, 4)`` (x, y, w, h, pixels) and scores ``(n,)`` at the local maxima
    (3x3) of the centre heatmap above ``threshold``."""
    heat = torch.sigmoid(out[:, 0:1])
    peaks = (heat == F.max_pool2d(heat, 3, 1, 1)) & (heat > threshold)
    result = []
    for i in range(len(out)):
        iy, ix = torch.nonzero(peaks[i, 0], as_tuple=True)
        bw, bh = out[i, 1, iy, ix].exp(), out[i, 2, iy, ix].exp()
        cx, cy = (ix + out[i, 3, iy, ix]) * STRIDE, (iy + out[i, 4, iy, ix]) * STRIDE
        boxes = torch.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1).numpy().astype(np.float32)
        result.append((boxes.reshape(-1, 4), heat[i, 0, iy, ix].numpy().astype(np.float32)))
    return result


class PersonDetectorError(RuntimeError):
    """A detector file is missing or unusable; the message names it."""


class PersonDetector:
    """The network with its threshold, for one frame at a time (the engine's work resolution)."""

    motion_gap = MOTION_GAP

    def __init__(self, net: PersonDetectorNet, threshold: float = 0.3, card: dict | None = None, source: str = ""):
        self.net = net.eval()
        self.threshold = threshold
        self.card = card or {}
        self.source = source or "in memory"  # the file it was loaded from

    def detect(self, frame: np.ndarray, earlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RGB ``frame`` and the frame ``MOTION_GAP`` earlier (H, W, 3) uint8 -> boxes ``(n, 4)``
        (x, y, w, h) and scores ``(n,)``. H and W need not be multiples of the stride."""
        h, w = frame.shape[:2]
        ph, pw = -h % (2 * STRIDE), -w % (2 * STRIDE)
        x = network_input(frame[None], earlier[None])
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        with torch.inference_mode():
            return decode(self.net(x), self.threshold)[0]

    @classmethod
    def load(cls, path: str | Path, threshold: float | None = None) -> PersonDetector:
        """From ``path`` (.safetensors, with its .yaml card beside it)."""
        import yaml
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise PersonDetectorError(f"person detector {path} does not exist (train one with `tvau train detector`, "
                                      "or set behaviour.detector to '' to use foreground blobs only)")
        card_path = path.with_suffix(".yaml")
        try:
            card = yaml.safe_load(card_path.read_text()) if card_path.is_file() else {}
            state = load_file(str(path))
            net = PersonDetectorNet(int(card.get("width", state["down4.1.0.weight"].shape[0])))
            net.load_state_dict(state)
        except (SafetensorError, OSError, KeyError, RuntimeError, ValueError, yaml.YAMLError) as exc:
            raise PersonDetectorError(f"person detector {path} cannot be read: {str(exc).splitlines()[0]}") from exc
        return cls(net, float(card.get("threshold", 0.3) if threshold is None else threshold), card, str(path))

    def save(self, path: str | Path, card: dict) -> None:
        """Weights to ``path`` (.safetensors) and ``card`` (with width and threshold) beside it."""
        import yaml
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(path))
        card = {**card, "width": self.net.width, "threshold": self.threshold}
        path.with_suffix(".yaml").write_text(yaml.safe_dump(card, sort_keys=False))
