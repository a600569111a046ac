"""`tvau data realcheck` on the real vtest.avi (fetched by scripts/get_vtest.sh into a cache
folder outside git; skipped with the script's reason when it cannot be fetched): the check
set builds, reads through load_dataset, its plain clips are the right vtest frames, and the
composites change the frames inside their masks and barely outside."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tvau_ros.data import load_dataset
from tvau_ros.data.realcheck import KINDS, LAST_USABLE_FRAME, read_frames

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("TVAU_CACHE_DIR", Path.home() / ".cache" / "tvau_ros")) / "vtest"


@pytest.fixture(scope="module")
def vtest() -> Path:
    try:
        fetched = subprocess.run(["bash", str(ROOT / "scripts" / "get_vtest.sh"), str(CACHE)], capture_output=True,
                                 text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"scripts/get_vtest.sh could not run: {exc}")
    if fetched.returncode != 0:
        pytest.skip(f"vtest.avi not available: scripts/get_vtest.sh {CACHE} failed: "
                    f"{fetched.stderr.strip() or fetched.stdout.strip()}")
    return CACHE / "vtest.avi"


@pytest.fixture(scope="module")
def built(vtest, tmp_path_factory):
    out = tmp_path_factory.mktemp("realcheck") / "vtest_check"
    run = subprocess.run([sys.executable, "-m", "tvau_ros.cli", "data", "realcheck", "--video", str(vtest),
                          "--out", str(out), "--per-kind", "1", "--seed", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    return out, run.stdout


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


def test_the_set_builds_and_reads_like_any_split(built):
    out, stdout = built
    summary = json.loads((out / "summary.json").read_text())
    assert "normal footage: 0.67 min in 4 clips" in stdout
    assert summary["source_frames_used"] == [0, LAST_USABLE_FRAME]
    assert 0.2 < summary["geometry"]["person_height"]["slope"] < 0.32  # px of person height per image row
    for kind in KINDS:
        assert summary["kinds"][kind]["clips"] == 2 and summary["kinds"][kind]["abnormal_frames"] > 0, kind
    for fold in "ab":
        assert summary["folds"][fold]["sprites"] >= 3
        test = load_dataset(out / f"fold_{fold}", "test")
        assert sorted(s.meta["kind"] for s in test) == sorted(["normal", "normal"] + list(KINDS))
        assert all(s.meta["source"]["frames"][1] <= LAST_USABLE_FRAME for s in test)
        (learning,) = load_dataset(out / f"fold_{fold}", "train")
        assert learning.num_frames == 200


def test_plain_clips_are_the_right_vtest_frames(built, vtest):
    out, _ = built
    source = read_frames(vtest, 0, 400)
    for fold in "ab":
        for s in load_dataset(out / f"fold_{fold}", "test") + load_dataset(out / f"fold_{fold}", "train"):
            if s.is_abnormal:
                continue
            first = s.meta["source"]["frames"][0]
            for k in (0, s.num_frames // 2, s.num_frames - 1):
                frame = cv2.cvtColor(s.read_frames(k, k + 1)[0], cv2.COLOR_RGB2BGR)
                assert _psnr(frame, source[first + k]) > 30, (s.name, k)
                assert _psnr(frame, source[(first + k + 37) % 400]) < _psnr(frame, source[first + k]) - 5


def test_composites_show_inside_their_masks(built, vtest):
    out, _ = built
    source = read_frames(vtest, 0, 400)
    for fold in "ab":
        for s in load_dataset(out / f"fold_{fold}", "test"):
            if not s.is_abnormal:
                continue
            first = s.meta["source"]["frames"][0]
            labelled = np.flatnonzero(s.frame_labels)
            k = int(labelled[len(labelled) // 2])
            frame = cv2.cvtColor(s.read_frames(k, k + 1)[0], cv2.COLOR_RGB2BGR).astype(int)
            plain = source[first + k].astype(int)
            mask = s.read_mask(k) > 0
            far = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
            inside = np.abs(frame - plain).max(axis=2)[mask].mean()
            outside = np.abs(frame - plain).max(axis=2)[far].mean()
            assert inside > 20 and outside < 8 and inside > 4 * outside, (s.name, inside, outside)


def test_eval_realcheck_learns_a_scene_model_per_method_and_scores_both_folds(built, tmp_path):
    out, _ = built
    report = tmp_path / "eval"
    run = subprocess.run([sys.executable, "-m", "tvau_ros.cli", "eval", "realcheck", "--dir", str(out),
                          "--out", str(report), "--quiet", "--method", "behaviour=default",
                          "--method", "detector=tvau_ros/configs/pipeline_detector.yaml",
                          "--method", "generic=default", "--set", "generic:scene=''"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    for method in ("behaviour", "detector"):  # each with the objects its own engine sees
        assert all((report / "scenes" / method / f"vtest_fold_{f}.safetensors").is_file() for f in "ab")
    assert not (report / "scenes" / "generic").exists()
    rows = json.loads((report / "summary.json").read_text())["realcheck"]
    clips = [s for f in "ab" for s in load_dataset(out / f"fold_{f}", "test")]
    assert [r["method"] for r in rows] == ["behaviour", "detector", "generic"]
    assert all(r["frames"] == sum(c.num_frames for c in clips) for r in rows)
    assert all(set(r["micro_auc_by_type"]) == set(KINDS) for r in rows)
    assert rows[0]["object_recall"]["targets"] == sum(c.is_abnormal for c in clips)
