#!/usr/bin/env bash
# Reproduce the behaviour engine's tables (README, docs/behaviour.md) from nothing: the benchmark,
# the generic model and one scene model per benchmark scene (from the train split's normal
# frames), then every method through the node's pipeline on every frame of validation and test,
# and the real-footage check set (vtest.avi frames 0-399, both folds).
#
#   training/reproduce_behaviour.sh            # about 2.75 h on 2 cores (the AHD rows take most)
#
# Settings (environment): DATA (benchmark root), RUN (scene models + reports), WORKERS (processes),
# SPLITS, METHODS_ONLY=behaviour (skip the AHD and motion-baseline rows), VTEST (vtest.avi; fetched
# by scripts/get_vtest.sh when unset). Runs this checkout's code with the venv's Python.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${TVAU_VENV:-.venv}; [ -d "$VENV" ] && VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"; [ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
DATA=${DATA:-data/default} RUN=${RUN:-outputs/behaviour} WORKERS=${WORKERS:-2} SPLITS=${SPLITS:-validation test}
TVAU="$PY -m tvau_ros.cli"

[ -f "$DATA/stats.json" ] || $TVAU data generate --config default --out "$DATA" --workers "$WORKERS" --no-progress
echo "== scene models $(date +%T)"
$TVAU learn-normal --dataset "$DATA/ubnormal" --split train --generic --out "$RUN/generic"
$TVAU learn-normal --dataset "$DATA/ubnormal" --split train --per-scene --out "$RUN/scenes"
# the same with the person detector's objects (models/tvau_person_detector.*, off by default)
$TVAU learn-normal --dataset "$DATA/ubnormal" --split train --per-scene --out "$RUN/scenes_detector" \
  --config tvau_ros/configs/pipeline_detector.yaml

# methods: the shipped pipeline with each video's scene model; its ablations (the generic model
# instead: no scene model; without the map attributes; with the person detector); the shipped AHD;
# the motion baseline
METHODS=(--method behaviour=default
         --method behaviour_generic=default --set "behaviour_generic:scene=''"
         --set "behaviour_generic:behaviour.generic_model=$RUN/generic/tvau_scene_generic.safetensors"
         --method behaviour_no_maps=default
         --set "behaviour_no_maps:behaviour.attributes=[fast,slow,stationary,loitering,wide,lying,shape_change,bounce,silhouette]"
         --method behaviour_detector=tvau_ros/configs/pipeline_detector.yaml
         --set "behaviour_detector:behaviour.scene_dir=$RUN/scenes_detector")
if [ "${METHODS_ONLY:-}" != behaviour ]; then
  METHODS+=(--method ahd=tvau_ros/configs/pipeline_ahd.yaml --method motion_baseline=tvau_ros/configs/pipeline_motion.yaml)
fi
echo "== benchmark evaluation $(date +%T)"
$TVAU eval pipeline --dataset "$DATA/ubnormal" --split $SPLITS --out "$RUN/eval" --scene-models "$RUN/scenes" \
  --workers "$WORKERS" --quiet "${METHODS[@]}" | tee "$RUN/eval.txt"

echo "== real-footage check set $(date +%T)"
clip=${VTEST:-$(bash scripts/get_vtest.sh)}
[ -d "$RUN/realcheck/fold_a" ] || $TVAU data realcheck --video "$clip" --out "$RUN/realcheck"
RC=(--method behaviour=default --method behaviour_generic=default --set "behaviour_generic:scene=''"
    --method behaviour_detector=tvau_ros/configs/pipeline_detector.yaml)
[ "${METHODS_ONLY:-}" != behaviour ] && RC+=(--method ahd=tvau_ros/configs/pipeline_ahd.yaml \
  --method motion_baseline=tvau_ros/configs/pipeline_motion.yaml)
$TVAU eval realcheck --dir "$RUN/realcheck" --out "$RUN/eval_realcheck" --workers "$WORKERS" --quiet "${RC[@]}" \
  | tee "$RUN/eval_realcheck.txt"
echo "== done $(date +%T): $RUN/eval.txt, $RUN/eval_realcheck.txt"
