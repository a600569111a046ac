#!/usr/bin/env bash
# Reproduce the default AHD checkpoint and its model-card table from nothing:
# benchmark generation, feature caches, four trainings, one evaluation run per split (same frames
# for every method).
# Run from the repository root after `make setup`; about 1.5 hours on a 2-core CPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

[ -f data/default/stats.json ] || tvau data generate --config default --out data/default
for cfg in fine_tuned one_shot no_motion random_encoder; do
  tvau train ahd --config "training/configs/ahd_${cfg}.yaml" --quiet
done
CK=(--checkpoint fine_tuned=outputs/ahd_fine_tuned/ahd.safetensors
    --checkpoint one_shot=outputs/ahd_one_shot/ahd.safetensors
    --checkpoint no_motion=outputs/ahd_fine_tuned_no_motion/ahd.safetensors
    --checkpoint random_encoder=outputs/ahd_random_encoder/ahd.safetensors
    --motion-baseline --base-threshold 0.2)
# Every 4th (test) / 8th (validation) 8-frame clip of every video, the same frames for every
# method; --clip-stride 1 evaluates all frames (about 4x / 8x longer).
tvau eval ahd --dataset data/default/ubnormal --split test --clip-stride 4 --out outputs/eval_default_test "${CK[@]}"
tvau eval ahd --dataset data/default/ubnormal --split validation --clip-stride 8 --out outputs/eval_default_val "${CK[@]}"
cp outputs/ahd_fine_tuned/ahd.safetensors models/tvau_ahd_dinov2s_minilm.safetensors
