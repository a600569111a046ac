"""The paper's Table 2/3 ablation, as far as it runs here: one model config trained three times
in one run, differing only in how heatmap evidence reaches the language model.

    w/o AHD   ``heatmap_mode: none``     RAE kept, no heatmap evidence (all-normal heatmaps)
    w/o RAE   ``heatmap_mode: overlay``  no RAE; the heatmap tints the frames the model sees
    full      ``heatmap_mode: rae``      heatmaps -> RAE -> anomaly prompts P_An (eq. 9-14)

Each variant is trained with ``train_rae`` (same seed, same data order), saved, loaded back
from its folders, and asked every test dialogue (``evaluate.predict_dialogues``); the rows give
Yes/No accuracy, balanced accuracy and BLEU-4 of Target / Motion / Trajectory answers with the
parameter count. Heatmaps come from the config's ``heatmap_source`` (ground-truth masks).

    python -m tvau_ros.train.rae_ablation --config training/configs/rae_tiny_ablation.yaml \\
        --dataset DATA --train-dialogues DATA/ann_train.jsonl --val-dialogues DATA/ann_validation.jsonl \\
        --test-dialogues DATA/ann_test.jsonl --out outputs/rae_ablation

For ``tvau eval dialogue``: ``load_ablation_answerers(out)`` returns the trained variants by
name, ready for ``evaluate.evaluate_dialogues``; ``markdown_table(rows)`` formats rows.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from tvau_ros.core.lvlm.answerer import LvlmAnswerer
from tvau_ros.core.lvlm.dialogue_data import load_dialogue_clips
from tvau_ros.core.lvlm.evaluate import predict_dialogues, score_records
from tvau_ros.train.rae_config import RaeTrainConfig, load_rae_config
from tvau_ros.train.rae_trainer import train_rae

VARIANTS = {"w/o AHD": ("none", "no_ahd"), "w/o RAE": ("overlay", "no_rae"), "full": ("rae", "full")}


def load_ablation_answerers(out: str | Path, device: str = "cpu") -> dict[str, LvlmAnswerer]:
    """The trained variants found under ``out`` (``<slug>/adapter`` + ``<slug>/model`` or the
    adapter's ``model_path``), by row name."""
    found = {}
    for name, (_, slug) in VARIANTS.items():
        adapter = Path(out) / slug / "adapter"
        if not adapter.is_dir():
            continue
        meta = json.loads((adapter / "tvau_lvlm.json").read_text(encoding="utf-8"))
        found[name] = LvlmAnswerer.from_pretrained(meta["model_path"], adapter=adapter, device=device)
    return found


def run_ablation(cfg: RaeTrainConfig, test_dialogues: str | Path, out: str | Path,
                 variants: tuple[str, ...] = tuple(VARIANTS), max_new_tokens: int = 96,
                 test_limit: int | None = None, progress: bool = True) -> list[dict]:
    """Train, reload and evaluate each variant; writes ``out/<slug>/predictions.jsonl`` and
    ``out/ablation.json``; returns one row per variant."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    load = dict(heatmap_source=cfg.heatmap_source, num_frames=cfg.num_frames, max_side=cfg.max_side)
    data = {"train": load_dialogue_clips(cfg.train_dialogues, cfg.train_root, limit=cfg.limit, **load),
            "validation": load_dialogue_clips(cfg.val_dialogues, cfg.dataset, limit=cfg.limit, **load)
            if cfg.val_dialogues else []}
    test = load_dialogue_clips(test_dialogues, cfg.dataset, limit=test_limit, **load)
    if progress:
        print(f"ablation: {len(data['train'])} train / {len(data['validation'])} validation / {len(test)} test "
              f"dialogues loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for name in variants:
        mode, slug = VARIANTS[name]
        folder = out / slug
        vcfg = dataclasses.replace(cfg, heatmap_mode=mode, out_dir=str(folder))
        t_train = time.perf_counter()
        adapter = train_rae(vcfg, resume=True, progress=progress, clips=data)
        train_s = time.perf_counter() - t_train
        meta = json.loads((adapter / "tvau_lvlm.json").read_text(encoding="utf-8"))
        answerer = LvlmAnswerer.from_pretrained(meta["model_path"], adapter=adapter)
        t_eval = time.perf_counter()
        records = predict_dialogues(answerer, test, max_new_tokens)
        eval_s = time.perf_counter() - t_eval
        with (folder / "predictions.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        row = {"variant": name, "heatmap_mode": mode, "parameters": answerer.parameter_count()["total"],
               "best_epoch": meta["best"]["epoch"], "train_seconds": round(train_s, 1),
               "eval_seconds": round(eval_s, 1), **score_records(records)}
        rows.append(row)
        if progress:
            print(json.dumps(row), flush=True)
    (out / "ablation.json").write_text(json.dumps({"config": cfg.to_dict(), "test_dialogues": str(test_dialogues),
                                                   "rows": rows}, indent=1), encoding="utf-8")
    return rows


def markdown_table(rows: list[dict]) -> str:
    """Rows as the README's table (percent; BLEU-4 mean +- std)."""
    lines = ["| variant | parameters | Yes/No acc. | balanced acc. | Target BLEU-4 | Motion BLEU-4 | "
             "Trajectory BLEU-4 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        def bleu(key: str, r: dict = r) -> str:
            return f"{r[key]:.2f} ± {r[key.replace('bleu4', 'bleu4_std')]:.2f}" if key in r else "–"
        lines.append(f"| {r['variant']} | {r['parameters'] / 1e6:.3f} M | {r['yes_no_accuracy']:.2f} % | "
                     f"{r['balanced_accuracy']:.2f} % | {bleu('target_bleu4')} | {bleu('motion_bleu4')} | "
                     f"{bleu('trajectory_bleu4')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tvau_ros.train.rae_ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="training YAML (training/configs/rae_tiny_ablation.yaml)")
    parser.add_argument("--dataset", help="override the dataset root")
    parser.add_argument("--train-dialogues", help="override the training dialogue JSONL")
    parser.add_argument("--train-dataset", help="root of the training dialogues' videos, when they come from "
                        "another generated set (default: the dataset root)")
    parser.add_argument("--val-dialogues", help="override the validation dialogue JSONL")
    parser.add_argument("--test-dialogues", required=True, help="dialogue JSONL to evaluate on")
    parser.add_argument("--out", required=True, help="output folder (one subfolder per variant; resumes)")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--seed", type=int, help="override the seed (LLM and RAE init, data order)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {list(VARIANTS)}")
    parser.add_argument("--test-limit", type=int, help="evaluate the first N test dialogues only")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"rae_ablation: unknown variant(s) {unknown}; choose from {list(VARIANTS)}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = load_rae_config(args.config, {"dataset": args.dataset, "train_dialogues": args.train_dialogues,
                                            "train_dataset": args.train_dataset,
                                            "val_dialogues": args.val_dialogues, "epochs": args.epochs,
                                            "seed": args.seed})
        rows = run_ablation(cfg, args.test_dialogues, args.out, variants, test_limit=args.test_limit,
                            progress=not args.quiet)
    except (OSError, ValueError) as exc:
        print(f"rae_ablation: {exc}", file=sys.stderr)
        return 1
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
