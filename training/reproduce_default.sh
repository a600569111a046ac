#!/usr/bin/env bash
# Reproduce the default AHD checkpoint and its model-card table from nothing:
# benchmark generation, feature caches, four trainings, one evaluation run (same frames for all).
# Run from the repository root after `make setup`; about 1-2 hours on a 2-core CPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

[ -f data/default/stats.json ] || tvau data generate --config default --out data/default
for cfg in fine_tuned one_shot no_motion random_encoder; do
  tvau train ahd --config "training/configs/ahd_${cfg}.yaml" --quiet
done
tvau eval ahd --dataset data/default/ubnormal --split test validation --out outputs/eval_default \
  --checkpoint fine_tuned=outputs/ahd_fine_tuned/ahd.safetensors \
  --checkpoint one_shot=outputs/ahd_one_shot/ahd.safetensors \
  --checkpoint no_motion=outputs/ahd_fine_tuned_no_motion/ahd.safetensors \
  --checkpoint random_encoder=outputs/ahd_random_encoder/ahd.safetensors \
  --motion-baseline
cp outputs/ahd_fine_tuned/ahd.safetensors models/tvau_ahd_dinov2s_minilm.safetensors
