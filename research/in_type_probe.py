"""In-type probe: can the AHD head tell abnormal from normal frames when it is trained on the
*same* anomaly types? It separates the open-set question (unseen types) from the question
whether the frozen tokens carry the difference at all.

The videos of one split of a feature cache are split in two halves by name (even / odd
positions); a head is trained on one half with a training config (only its cache and output
folder change) and scored on the other half with ``cached_pairs_auc`` (frame AUC of the heatmap
maximum, cell AUC). No encoder runs: the cached tokens are reused through a second index that
points at the same files.

    python -m research.in_type_probe cache/features/dinov2_pretrained_168x224_p12 \\
        --split train --out outputs/in_type_probe [--set KEY=VALUE as in `tvau train ahd`]

It prints the scores on the held-out half and on the training half: a head that scores its
training targets high but the held-out ones low has memorised instances, not behaviour.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from research.cached_pairs_auc import cached_pairs_auc

from tvau_ros.cli.train_cmd import apply_settings, parse_setting
from tvau_ros.train.ahd_trainer import train_ahd
from tvau_ros.train.config import load_train_config
from tvau_ros.train.features import FeatureCache


def split_in_halves(cache_dir: str | Path, split: str, out: Path) -> FeatureCache:
    """A cache index over ``split``'s videos: even positions (by name) as ``train``, odd ones as
    ``validation``; the token files stay where they are."""
    source = Path(cache_dir).resolve()
    index = json.loads((source / "index.json").read_text())
    videos = sorted((v for v in index["videos"] if v["split"] == split), key=lambda v: v["name"])
    if len(videos) < 2:
        raise SystemExit(f"{cache_dir}: needs at least two {split} videos, found {len(videos)}")
    index["videos"] = [dict(v, split="train" if i % 2 == 0 else "validation", file=str(source / v["file"]))
                       for i, v in enumerate(videos)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(index))
    return FeatureCache(out)


def train_probe_head(config: str, settings: list, cache: FeatureCache, out_dir: Path) -> Path:
    """Train the head of a training config (``--set`` overrides applied) on ``cache``'s train half."""
    cfg = dataclasses.replace(apply_settings(load_train_config(config), settings), out_dir=str(out_dir))
    return train_ahd(cfg, cache, resume=False, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache", help="feature cache folder built by `tvau train ahd`")
    parser.add_argument("--split", default="train", help="the split whose videos are halved (default: train)")
    parser.add_argument("--config", default="training/configs/ahd_fine_tuned.yaml", help="training config")
    parser.add_argument("--out", default="outputs/in_type_probe", help="output folder (index + checkpoint)")
    parser.add_argument("--set", type=parse_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="override a training setting, e.g. model.mlp_hidden=16 (repeatable)")
    args = parser.parse_args()
    out = Path(args.out)
    cache = split_in_halves(args.cache, args.split, out / "cache")
    checkpoint = train_probe_head(args.config, args.set, cache, out / "head")
    halves = {s: len(cache.videos(s)) for s in ("train", "validation")}
    print(f"in-type probe on {args.split} videos ({halves['train']} training / {halves['validation']} held-out)")
    for half, name in (("validation", "held-out half"), ("train", "training half")):
        result = cached_pairs_auc(str(checkpoint), str(cache.root), half)
        print(f"  {name}: " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in result.items()))


if __name__ == "__main__":
    main()
