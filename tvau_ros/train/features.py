"""Encoder feature cache for AHD training: the frozen encoder runs once per cached frame.

For each video of a split, ``pairs_per_video`` frame pairs (t-k, t) are drawn (seeded per
video), k = the model's ``motion_stride``. A pair is the smallest clip that carries the AHD's
motion token (V_t - V_{t-k}); training on pairs costs a quarter of 8-frame clips for the same
number of supervised frames. For abnormal videos, ``abnormal_pair_fraction`` of the pairs end on an
abnormal frame. Per video one ``.npz`` holds

- ``tokens``  float16 ``(P, L, 2, H', W', D_v)``: the selected block outputs;
- ``targets`` float16 ``(P, 2, H', W')``: the abnormal-pixel fraction of each patch cell;
- ``frames``  int ``(P,)``: t of each pair; ``labels`` uint8 ``(P, 2)``: frame labels of (t-k, t).

``index.json`` beside them records the model config, encoder init, text features and, per
video, its split, anomaly categories and file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from tvau_ros.core.ahd import AHDConfig, backbone_dims, cached_text_features, check_input_size
from tvau_ros.core.clip import preprocess_clip
from tvau_ros.core.prompts import load_prompt_set
from tvau_ros.data.dataset import VideoSample


def randomize_encoder(module: torch.nn.Module, seed: int) -> None:
    """Re-draw every weight of ``module`` (same architecture, no pretraining): matrices from a
    truncated normal (std 0.02, the ViT/DINOv2 initialisation), norm weights and layer scales 1,
    biases and remaining vectors 0."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim >= 2:
                param.copy_(torch.randn(param.shape, generator=gen).clamp_(-2, 2) * 0.02)
            elif name.endswith("weight") or "lambda" in name or "scale" in name:
                param.fill_(1.0)
            else:
                param.zero_()


def video_categories(video: VideoSample) -> list[str]:
    """Anomaly categories of a video: from generator metadata, else one per abnormal video."""
    if video.meta and video.meta.get("anomaly_types"):
        return sorted(set(video.meta["anomaly_types"]))
    return [f"video:{video.name}"] if video.is_abnormal else []


def choose_pairs(video: VideoSample, count: int, abnormal_fraction: float, seed: int, gap: int = 1) -> np.ndarray:
    """End frames t (>= gap) of the cached (t-gap, t) pairs, sorted; deterministic per video."""
    digest = hashlib.sha256(f"{seed}:{video.name}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    candidates = np.arange(gap, video.num_frames)
    labels = np.asarray(video.frame_labels)[gap:].astype(bool)
    abnormal, normal = candidates[labels], candidates[~labels]
    count = min(count, candidates.size)
    n_abnormal = min(abnormal.size, round(count * abnormal_fraction)) if video.is_abnormal else 0
    n_normal = min(normal.size, count - n_abnormal)
    picks = [rng.choice(abnormal, n_abnormal, replace=False), rng.choice(normal, n_normal, replace=False)]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def mask_targets(video: VideoSample, frames: list[int], grid: tuple[int, int]) -> np.ndarray:
    """Abnormal-pixel fraction per patch cell, ``(len(frames), H', W')`` float32."""
    out = np.zeros((len(frames), *grid), np.float32)
    for i, frame in enumerate(frames):
        if video.frame_labels[frame]:
            mask = (video.read_mask(frame) > 0).astype(np.float32)
            out[i] = cv2.resize(mask, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    return out


class FeatureCache:
    """Reads a cache written by :func:`build_feature_cache`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        index = self.root / "index.json"
        if not index.is_file():
            raise FileNotFoundError(f"feature cache index not found: {index} (run `tvau train ahd` to build it)")
        self.index = json.loads(index.read_text())

    @property
    def text_features(self) -> torch.Tensor:
        return torch.tensor(self.index["text_features"], dtype=torch.float32)

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.index["dims"])

    def videos(self, split: str) -> list[dict]:
        return [v for v in self.index["videos"] if v["split"] == split]

    def load(self, entries: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens ``(N, L, 2, H', W', D)`` float16 and targets ``(N, 2, H', W')`` float32."""
        tokens, targets = [], []
        for entry in entries:
            with np.load(self.root / entry["file"]) as data:
                tokens.append(torch.from_numpy(data["tokens"]))
                targets.append(torch.from_numpy(data["targets"].astype(np.float32)))
        return torch.cat(tokens), torch.cat(targets)


def build_feature_cache(
    root: str | Path,
    videos_by_split: dict[str, list[VideoSample]],
    model_config: AHDConfig,
    pairs_per_video: int,
    abnormal_fraction: float,
    encoder_init: str = "pretrained",
    seed: int = 0,
    progress: bool = True,
    device: str = "cpu",
) -> FeatureCache:
    """Encode the chosen frame pairs of every video once; a video whose file exists in a cache
    built with the same encoder settings is not encoded again (an interrupted build resumes).
    The encoder runs on ``device`` (e.g. ``cuda``)."""
    from tqdm import tqdm

    from tvau_ros.core.backbones import build_backbone

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    gap = model_config.motion_stride
    settings = encoder_settings(model_config.to_dict(), encoder_init, seed, pairs_per_video, abnormal_fraction, gap)
    index_path = root / "index.json"
    old = json.loads(index_path.read_text()) if index_path.is_file() else {}
    reuse = bool(old) and encoder_settings(**_stored(old.get("settings", {}))) == settings

    backbone = build_backbone(model_config.backbone, model_config.layers, model_config.cache_dir,
                              model_config.model_path)
    check_input_size(model_config, backbone)  # an encoder would floor the grid and drop the edge pixels
    text_features = cached_text_features(backbone, load_prompt_set(model_config.prompts), model_config.cache_dir)
    if encoder_init == "random":
        randomize_encoder(backbone.vision, seed)
    backbone.vision.to(device)
    dims = backbone_dims(backbone)
    grid = (model_config.input_size[0] // dims["patch_size"], model_config.input_size[1] // dims["patch_size"])

    def entry(split: str, video: VideoSample, pairs: int) -> dict:
        return {"name": video.name, "split": split, "file": f"{split}/{video.name}.npz",
                "abnormal": bool(video.is_abnormal), "categories": video_categories(video), "pairs": pairs}

    def write_index(entries: list[dict]):
        index_path.write_text(json.dumps({"settings": settings, "dims": dims, "grid": list(grid),
                                          "text_features": text_features.tolist(), "videos": entries}))

    entries = []
    jobs = [(split, v) for split, videos in videos_by_split.items() for v in videos]
    for split, video in tqdm(jobs, desc=f"encoding ({encoder_init} encoder)", disable=not progress, unit="video"):
        file = f"{split}/{video.name}.npz"
        ends = choose_pairs(video, pairs_per_video, abnormal_fraction, seed, gap)
        if reuse and (root / file).is_file():
            entries.append(entry(split, video, len(ends)))
            continue
        frames = [int(f) for t in ends for f in (t - gap, t)]
        pixels = video.read_frames(0, int(ends.max()) + 1)[frames]  # one sequential decode
        clip = preprocess_clip(pixels, model_config.input_size, backbone.pixel_mean, backbone.pixel_std)
        with torch.no_grad():
            if dims["temporal_patch"] == 1:  # frame-wise encoder: one batched call
                tokens = backbone.encode(torch.from_numpy(clip).to(device)).cpu()
                tokens = tokens.reshape(tokens.shape[0], len(ends), 2, *tokens.shape[2:]).movedim(1, 0)
            else:
                tokens = torch.stack([backbone.encode(torch.from_numpy(clip[2 * i: 2 * i + 2]).to(device)).cpu()
                                      for i in range(len(ends))])
        targets = mask_targets(video, frames, grid).reshape(len(ends), 2, *grid)
        (root / split).mkdir(exist_ok=True)
        np.savez(root / file, tokens=tokens.numpy().astype(np.float16), targets=targets.astype(np.float16),
                 frames=ends, labels=np.asarray(video.frame_labels)[np.stack([ends - gap, ends], 1)])
        entries.append(entry(split, video, int(len(ends))))
        write_index(entries)  # an interrupted build resumes from here
    write_index(entries)
    return FeatureCache(root)


ENCODER_KEYS = ("backbone", "layers", "input_size", "model_path", "prompts")


def encoder_settings(model: dict, encoder_init: str, seed: int, pairs_per_video: int,
                     abnormal_fraction: float, pair_gap: int = 1) -> dict:
    """What the cached tokens depend on: the encoder and the frame sampling, not the head
    (so heads with other MLP sizes, motion switch or epochs reuse the cache)."""
    return {"encoder": {k: model.get(k) for k in ENCODER_KEYS}, "encoder_init": encoder_init,
            "seed": seed if encoder_init == "random" else None, "sampling_seed": seed,
            "pairs_per_video": pairs_per_video, "abnormal_fraction": abnormal_fraction, "pair_gap": pair_gap}


def _stored(settings: dict) -> dict:
    """Arguments of ``encoder_settings`` from an index's settings (either format)."""
    model = settings.get("model") or settings.get("encoder") or {}
    return {"model": model, "encoder_init": settings.get("encoder_init"),
            "seed": settings.get("sampling_seed", settings.get("seed")),
            "pairs_per_video": settings.get("pairs_per_video"), "abnormal_fraction": settings.get("abnormal_fraction"),
            "pair_gap": settings.get("pair_gap", 1)}
