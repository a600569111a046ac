"""`tvau data realcheck` on a small synthetic stand-in for vtest.avi (no download needed):
layout, labels, exact masks, the frame-399 limit, determinism and bad arguments."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tvau_ros.cli import main
from tvau_ros.data import load_dataset
from tvau_ros.data.realcheck import KINDS, BuildOptions, build_check_set, footage
from tvau_ros.data.realcheck.build import FOLDS, _clip_windows, _place, _render
from tvau_ros.data.realcheck.people import STILL_LABEL_AFTER_S
from tvau_ros.data.realcheck.scene import SceneError, learn_scene
from tvau_ros.data.realcheck.sprites import extract_sprites

SIZE = (320, 240)
POISON = (255, 0, 255)  # frames 400+ of the stand-in are magenta: they must never reach the output


def make_standin(path: Path, frames: int = 420, size=SIZE, fps: float = 10.0, seed: int = 0) -> Path:
    """A fixed camera over lawn (top) and paving: box-and-legs people walk across at several
    distances, taller nearer the camera; frames from 400 on are solid magenta."""
    w, h = size
    rng = np.random.default_rng(seed)
    bg = np.full((h, w, 3), 150, np.uint8)
    bg[: h // 4] = (40, 140, 60)
    bg = cv2.GaussianBlur(np.clip(bg + rng.normal(0, 4, bg.shape), 0, 255).astype(np.uint8), (0, 0), 1.0)
    walkers = []
    for k in range(14):
        v = int(rng.uniform(0.45, 0.95) * h)
        direction = 1 if k % 2 else -1
        walkers.append((int(k * 400 / 14), v, -10 if direction > 0 else w + 10,
                        direction * 0.08 * (0.3 * v - 5), tuple(int(c) for c in rng.integers(20, 235, 3))))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for t in range(frames):
        img = bg.copy()
        if t >= 400:
            img[:] = POISON
        for start, v, u0, speed, color in walkers if t < 400 else []:
            u, ph = u0 + speed * (t - start), 0.3 * v - 5
            if t < start or not -20 < u < w + 20:
                continue
            pw, top = ph / 3.2, int(v - ph)
            cv2.rectangle(img, (int(u - pw / 2), top + int(0.15 * ph)), (int(u + pw / 2), int(v - 0.45 * ph)),
                          color, -1)
            cv2.circle(img, (int(u), top + int(0.08 * ph)), max(2, int(0.08 * ph)), (60, 90, 140), -1)
            stride = 0.25 * pw * np.sin(t * 1.2)
            for side in (-1, 1):
                cv2.line(img, (int(u), int(v - 0.45 * ph)), (int(u + side * stride), v - 1), (70, 40, 30),
                         max(2, int(pw / 3)))
        writer.write(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
    writer.release()
    return path


class _ReadSpy:
    """Stands in for cv2.VideoCapture and records the index of every frame decoded or grabbed."""

    real = cv2.VideoCapture

    def __init__(self):
        self.indices: list[int] = []

    def capture(self, *args):
        spy, cap = self, _ReadSpy.real(*args)

        class Spying:
            position = 0

            def _step(self, ok):
                if ok:
                    spy.indices.append(self.position)
                    self.position += 1
                return ok

            def read(self):
                ok, frame = cap.read()
                return self._step(ok), frame

            def grab(self):
                return self._step(cap.grab())

            def set(self, prop, value):
                if prop == cv2.CAP_PROP_POS_FRAMES:
                    self.position = int(value)
                return cap.set(prop, value)

            def __getattr__(self, name):  # isOpened, get, release
                return getattr(cap, name)

        return Spying()


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return make_standin(tmp_path_factory.mktemp("standin") / "standin.mp4")


@pytest.fixture(scope="module")
def built(standin, tmp_path_factory):
    """The check set built from the stand-in (1 clip per kind and fold), with every frame
    index the builder read."""
    out = tmp_path_factory.mktemp("realcheck") / "set"
    spy = _ReadSpy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(footage.cv2, "VideoCapture", spy.capture)
        summary = build_check_set(standin, out, BuildOptions(per_kind=1, expected_size=SIZE), log=lambda _: None)
    return out, summary, spy.indices


@pytest.fixture(scope="module")
def scene(standin):
    frames = footage.read_frames(standin, 0, 400)
    return frames, learn_scene(frames, 10.0)


def test_layout_reads_like_any_split(built):
    out, summary, _ = built
    for fold, (learn, check) in FOLDS.items():
        root = out / f"fold_{fold}"
        (learning,) = load_dataset(root, "train")
        assert learning.name == f"vtest_{fold}_learn" and learning.num_frames == learn[1] - learn[0]
        assert learning.meta["source"]["frames"] == [learn[0], learn[1] - 1] and not learning.is_abnormal
        test = load_dataset(root, "test")
        kinds = sorted(s.meta["kind"] for s in test)
        assert kinds == sorted(["normal", "normal"] + list(KINDS))
        for s in test:
            assert s.scene == "Scene_vtest" and s.meta["fold"] == fold
            assert s.meta["scene_model_frames"] == [learn[0], learn[1] - 1]
            first, last = s.meta["source"]["frames"]
            assert check[0] <= first <= last < check[1] and last - first + 1 == s.num_frames
            assert s.is_abnormal == (s.meta["kind"] != "normal")
            assert (out / "previews" / f"{s.name}.png").is_file() == s.is_abnormal
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["kinds"] == summary["kinds"]
    assert summary["kinds"]["normal"] == {"clips": 4, "frames": 400, "abnormal_frames": 0, "minutes": 0.67}
    for kind in KINDS:
        assert summary["kinds"][kind]["clips"] == 2 and summary["kinds"][kind]["abnormal_frames"] > 0
    assert summary["kinds"]["standing_still"]["frames"] == 400  # a fold's whole check range, twice


def _abnormal(out: Path):
    for fold in FOLDS:
        yield from (s for s in load_dataset(out / f"fold_{fold}", "test") if s.is_abnormal)


def test_labels_follow_each_kind_and_every_labelled_frame_has_its_mask(built):
    out, _, _ = built
    for s in _abnormal(out):
        meta, comp, labels = s.meta, s.meta["composite"], s.frame_labels
        labelled = np.flatnonzero(labels)
        ann = out / f"fold_{meta['fold']}" / "Scene_vtest" / f"{s.name}_annotations"
        masks = sorted(int(p.name.split("_")[-2]) for p in ann.glob("*_gt.png"))
        assert masks == labelled.tolist(), s.name  # a mask for each labelled frame, none for the others
        assert all(s.read_mask(int(f)).any() for f in labelled)
        assert comp["first_visible"] <= labelled[0] and labelled[-1] <= comp["last_visible"]
        assert meta["targets"][0]["visible_frames"] == len(labelled)
        if meta["kind"] == "fall":
            assert labelled[0] >= comp["fall_frame"] and labelled[-1] == s.num_frames - 1
        elif meta["kind"] == "standing_still":
            assert labelled[0] >= comp["stop_frame"] + STILL_LABEL_AFTER_S * s.fps
            assert (s.num_frames - comp["stop_frame"]) / s.fps >= 12.0
        elif meta["kind"] == "thrown_object":
            assert labelled[0] >= comp["throw_frame"] and comp["rest_frame"] < s.num_frames
        elif meta["kind"] == "vehicle":
            assert 3.0 <= comp["speed_mps"] <= 5.0
        else:
            assert 3.0 <= comp["speed_mps"] <= 6.0


def test_pasted_people_come_from_the_other_half(built):
    out, _, _ = built
    for s in _abnormal(out):
        if "sprite_source_frames" not in s.meta["composite"]:
            continue
        a, b = s.meta["composite"]["sprite_source_frames"]
        learn = s.meta["scene_model_frames"]
        first, last = s.meta["source"]["frames"]
        assert learn[0] <= a <= b <= learn[1] and (b < first or a > last), s.name


def test_nothing_past_frame_399_is_read_or_shown(built):
    out, _, indices = built
    assert indices and max(indices) == 399 and min(indices) == 0
    for video in sorted(out.glob("fold_*/Scene_vtest/*.mp4")):
        cap = cv2.VideoCapture(str(video))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            magenta = (frame[..., 1] < 80) & (frame[..., 0] > 180) & (frame[..., 2] > 180)
            assert magenta.mean() < 0.01, video.name
        cap.release()


def test_masks_are_exactly_the_pasted_object(scene):
    """Composited in memory (no video codec): every changed pixel is the object, its thin
    feathered rim (2 px at most) or its ground shadow, and the object's mask pixels did change."""
    frames, facts = scene
    sprites = extract_sprites(frames[0:200], 0, facts.blobs[0:200], facts.line, facts.fps)
    windows = _clip_windows((200, 400), 100)
    for ki, kind in enumerate(KINDS):
        comp, src = _place(kind, facts, sprites, (200, 400), windows, (7, 0, ki, 0))
        assert comp is not None, src
        clip, masks, labels = _render(frames, facts, src, comp)
        for k, f in enumerate(src):
            changed = np.any(clip[k] != frames[f], axis=2)
            if masks[k] is None:
                assert not changed.any()
                continue
            allowed = cv2.dilate(masks[k].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            shadow = comp.ops[k].shadow
            if shadow is not None:
                x0, y0, x1, y1 = shadow.box
                region = np.zeros_like(allowed)
                region[max(0, y0):y1, max(0, x0):x1] = True
                allowed |= region
            assert not (changed & ~allowed).any(), (kind, k)
            if masks[k].any():
                assert (changed & masks[k]).sum() >= 0.95 * masks[k].sum(), (kind, k)
        assert labels.any(), kind


def test_same_seed_same_set_other_seed_other_draws(built, standin, tmp_path, scene):
    out, summary, _ = built
    again = build_check_set(standin, tmp_path / "again", BuildOptions(per_kind=1, expected_size=SIZE),
                            log=lambda _: None)
    assert again["kinds"] == summary["kinds"]
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        if rel.suffix in (".json", ".txt", ".png") and rel.name != "summary.json":
            assert (out / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    one = next(rel for rel in first if rel.name.endswith("fall_00.mp4"))
    caps = [cv2.VideoCapture(str(root / one)) for root in (out, tmp_path / "again")]
    for _ in range(100):
        (ok1, f1), (ok2, f2) = (c.read() for c in caps)
        assert ok1 and ok2 and np.array_equal(f1, f2)
    frames, facts = scene
    sprites = extract_sprites(frames[200:400], 200, facts.blobs[200:400], facts.line, facts.fps)
    windows = _clip_windows((0, 200), 100)
    drawn = [_place("fast_walker", facts, sprites, (0, 200), windows, (seed, 1, 0, 0))[0].meta for seed in (0, 1)]
    assert drawn[0]["path_uv"] != drawn[1]["path_uv"]


def _cli(capsys, *args) -> tuple[int, list[str]]:
    code = main(["data", "realcheck", *args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def _blank_video(path: Path, frames: int, size) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for _ in range(frames):
        writer.write(np.full((size[1], size[0], 3), 128, np.uint8))
    writer.release()
    return path


def test_cli_bad_arguments_exit_non_zero_naming_the_value(capsys, tmp_path, standin):
    code, err = _cli(capsys, "--video", str(tmp_path / "nope.avi"), "--out", str(tmp_path / "o"))
    assert code == 2 and len(err) == 1 and "nope.avi" in err[0] and "no such file" in err[0]
    short = _blank_video(tmp_path / "short.mp4", 30, (768, 576))
    code, err = _cli(capsys, "--video", str(short), "--out", str(tmp_path / "o"))
    assert code == 2 and len(err) == 1 and "short.mp4: 30 frames, need at least 400" in err[0]
    code, err = _cli(capsys, "--video", str(standin), "--out", str(tmp_path / "o"))
    assert code == 2 and len(err) == 1 and "frames are 320x240, expected 768x576" in err[0]
    good = _blank_video(tmp_path / "blank.mp4", 400, (768, 576))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, err = _cli(capsys, "--video", str(good), "--out", str(blocker / "set"))
    assert code == 2 and len(err) == 1 and f"--out {blocker / 'set'}: cannot write there" in err[0]
    code, err = _cli(capsys, "--video", str(good), "--out", str(tmp_path / "o"), "--per-kind", "0")
    assert code == 2 and len(err) == 1 and "--per-kind 0" in err[0]
    assert not (tmp_path / "o").exists()


def test_an_earlier_set_is_kept_unless_told_and_until_the_footage_is_understood(capsys, tmp_path):
    out = tmp_path / "earlier"
    (out / "fold_a").mkdir(parents=True)
    (out / "summary.json").write_text("{}")
    good = _blank_video(tmp_path / "blank.mp4", 400, (768, 576))
    code, err = _cli(capsys, "--video", str(good), "--out", str(out))
    assert code == 2 and len(err) == 1 and "already holds a check set" in err[0] and "--overwrite" in err[0]
    blank = _blank_video(tmp_path / "small_blank.mp4", 400, (64, 48))
    with pytest.raises(SceneError, match="cannot tell the scene's scale"):  # nobody walks in it ...
        build_check_set(blank, out, BuildOptions(expected_size=(64, 48), overwrite=True), log=lambda _: None)
    assert (out / "summary.json").read_text() == "{}" and (out / "fold_a").is_dir()  # ... so nothing was removed
