#!/usr/bin/env bash
# Reproduce an AHD checkpoint set and its model-card table from nothing: benchmark generation,
# feature caches, four trainings (fine-tuned, one-shot, no motion token, random encoder) and one
# evaluation run per split (the same frames for every method, plus the motion baseline).
#
#   training/reproduce_default.sh                          # the shipped 168x224 model, CPU (~1.5 h, 2 cores)
#   DEVICE=cuda SIZE=336x448 PAIRS=16 training/reproduce_default.sh    # the GPU sweep (README)
#
# Settings (environment): DEVICE (cpu | cuda), SIZE (model input HxW, multiples of 14), PAIRS
# (frame pairs cached per video), EPOCHS (a RUN trained with other EPOCHS is refused: use another RUN), DATA (benchmark root), CACHE (feature caches), RUN
# (checkpoints + reports), WORKERS (generator processes), COMPARE (extra NAME=CHECKPOINT pairs
# evaluated in the same run, e.g. the shipped model), SPLITS (test and/or validation).
# Runs from any directory after `make setup`: it moves to the repository root (the config paths
# below are relative to it) and runs this checkout's code (`python -m tvau_ros.cli`, PYTHONPATH =
# the root) with the venv's Python (TVAU_VENV, default .venv); TVAU overrides the command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${TVAU_VENV:-.venv}; [ -d "$VENV" ] && VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"; [ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
DEVICE=${DEVICE:-cpu} SIZE=${SIZE:-168x224} PAIRS=${PAIRS:-12} EPOCHS=${EPOCHS:-4}
DATA=${DATA:-data/default} CACHE=${CACHE:-cache/features} RUN=${RUN:-outputs/ahd_${SIZE}}
WORKERS=${WORKERS:-2} SPLITS=${SPLITS:-test validation}
TVAU=${TVAU:-"$PY -m tvau_ros.cli"}
H=${SIZE%x*} W=${SIZE#*x}

[ -f "$DATA/stats.json" ] || $TVAU data generate --config default --out "$DATA" --workers "$WORKERS" --no-progress
for cfg in fine_tuned one_shot no_motion random_encoder; do
  init=pretrained; [ "$cfg" = random_encoder ] && init=random
  echo "== train $cfg ($SIZE, $PAIRS pairs/video, $DEVICE) $(date +%T)"
  $TVAU train ahd --config "training/configs/ahd_${cfg}.yaml" --quiet --device "$DEVICE" \
    --dataset "$DATA/ubnormal" --cache "$CACHE/dinov2_${init}_${SIZE}_p${PAIRS}" --out "$RUN/$cfg" \
    --epochs "$EPOCHS" --set "model.input_size=[$H, $W]" --set "pairs_per_video=$PAIRS"
done
CK=()
for cfg in fine_tuned one_shot no_motion random_encoder; do CK+=(--checkpoint "$cfg=$RUN/$cfg/ahd.safetensors"); done
for pair in ${COMPARE:-}; do CK+=(--checkpoint "$pair"); done
# Every 4th (test) / 8th (validation) 8-frame clip of every video, the same frames for every
# method; --clip-stride 1 evaluates all frames (about 4x / 8x longer).
for split in $SPLITS; do
  stride=4; [ "$split" = validation ] && stride=8
  echo "== eval $split $(date +%T)"
  $TVAU eval ahd --dataset "$DATA/ubnormal" --split "$split" --clip-stride "$stride" --out "$RUN/eval_$split" \
    --device "$DEVICE" --quiet --motion-baseline --base-threshold 0.2 "${CK[@]}"
done
echo "checkpoints in $RUN/*/ahd.safetensors; the shipped one is models/tvau_ahd_dinov2s_minilm.safetensors"
