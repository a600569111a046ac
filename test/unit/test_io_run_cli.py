"""``tvau run``: the offline pipeline over a video / image folder / bag, and its errors."""
import json
import subprocess
import sys

import cv2
import pytest

from tvau_ros.cli import main
from tvau_ros.core.engine_registry import build_engine
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.core.types import evidence_to_dict
from tvau_ros.io.bag_writer import write_image_bag
from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.io.sources import open_source
from tvau_ros.io.writers import read_events
from tvau_ros.metrics.predictions import load_predictions


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return generate_sample_clip(tmp_path_factory.mktemp("clip") / "sample.mp4", frames=45, anomaly_start=10)


def test_run_video_writes_all_outputs_matching_the_pipeline(clip, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--video", str(clip.path), "--out", str(out), "--engine", "motion_baseline"]) == 0
    printed = capsys.readouterr().out
    assert "tvau run: 45 frames" in printed and "anomalies: 1" in printed
    events = read_events(out / "events.jsonl")
    # the same pipeline object, driven by hand, gives the same events
    cfg = load_pipeline_config(overrides={"engine": "motion_baseline"})
    pipe = AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg))
    expected = [evidence_to_dict(e) for f in open_source(clip.path)
                if (e := pipe.push(f.image, f.time_ns, f.frame_id)) is not None]
    assert pipe.finish() is None  # every frame was covered: no event is written twice
    assert events == expected
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 45 and summary["dropped_frames"] == 0 and summary["frames_without_heatmap"] == []
    (anomaly,) = summary["anomalies"]
    first, last = clip.abnormal_span()
    assert first / clip.fps - 0.5 <= anomaly["start_s"] <= last / clip.fps
    heatmaps = load_predictions(out / "heatmaps.npz").heatmaps["sample"]
    assert heatmaps.shape == (45, 120, 160)
    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 45
    assert (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 240)


def test_run_frames_folder_with_a_config_file(clip, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for f in open_source(clip.path):
        if f.index < 12:
            cv2.imwrite(str(folder / f"{f.index}.jpg"), f.image[:, :, ::-1])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("engine: motion_baseline\nclip: {stride: 2}\n")
    out = tmp_path / "out"
    assert main(["run", "--frames", str(folder), "--fps", "15", "--config", str(cfg), "--out", str(out),
                 "--no-video"]) == 0
    events = read_events(out / "events.jsonl")
    assert [e["frame_index"] for e in events] == [4, 6, 8, 10, 11]  # stride 2, then the tail
    assert not (out / "annotated.mp4").exists()


def test_run_bag(clip, tmp_path):
    images = [f.image for f in open_source(clip.path)][:10]
    bag = write_image_bag(tmp_path / "bag", images, fps=15, frame_id="bag_cam")
    out = tmp_path / "out"
    assert main(["run", "--bag", str(bag), "--out", str(out), "--no-video", "--engine", "motion_baseline"]) == 0
    events = read_events(out / "events.jsonl")
    assert len(events) == 6 and events[0]["frame_id"] == "bag_cam"


def test_a_rejected_frame_keeps_its_place_in_every_output(clip, tmp_path):
    from tvau_ros.io.offline import run_offline
    from tvau_ros.io.sources import SourceFrame

    class RepeatedStamp:  # frame 5 repeats frame 4's stamp, as a glitching driver does
        path, kind, fps = tmp_path / "glitch", "frames", 15.0

        def __iter__(self):
            for f in open_source(clip.path):
                if f.index < 20:
                    yield SourceFrame(f.image, (f.index - (f.index == 5)) * 10**9 // 15, f.index)

    cfg = load_pipeline_config(overrides={"engine": "motion_baseline"})
    summary = run_offline(RepeatedStamp(), AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg)),
                          tmp_path / "out")
    assert summary["frames"] == 20 and summary["frames_without_heatmap"] == [5]
    heatmaps = load_predictions(tmp_path / "out" / "heatmaps.npz").heatmaps["glitch"]
    assert heatmaps.shape[0] == 20 and not heatmaps[5].any()
    events = read_events(tmp_path / "out" / "events.jsonl")
    reference = AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg))  # the same stream without frame 5
    frames = [f for f in open_source(clip.path) if f.index < 20 and f.index != 5]
    expected = [e for f in frames if (e := reference.push(f.image, f.time_ns)) is not None] + [reference.finish()]
    by_position = [i for i in range(20) if i != 5]  # pipeline frame index -> source position
    for evidence in [e for e in expected if e is not None]:
        # stored at half size (area)
        for index, heatmap in zip(evidence.new_frame_indices, evidence.heatmaps, strict=True):
            assert abs(float(heatmap.mean()) - float(heatmaps[by_position[index]].mean())) < 1e-5
    assert len(events) == len([e for e in expected if e is not None])
    video = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 20  # the rejected frame is there, plain


def _cli(*args):
    code = "import sys; from tvau_ros.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind,name,content,message", [
    ("--video", "missing.mp4", None, "no such file or folder"),
    ("--video", "corrupt.mp4", b"\x00not a video" * 50, "cannot read video"),
    ("--bag", "corrupt.mcap", b"\x00not a bag" * 50, "cannot read bag"),
    ("--frames", "nothing", "dir", "no image files"),
])
def test_bad_sources_exit_2_with_one_line(tmp_path, kind, name, content, message):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    result = _cli("run", kind, str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tvau: error: ") and message in lines[0] and name in lines[0]


@pytest.mark.parametrize("config, message", [
    ("regions: 5", "pipeline option 'regions' must be a mapping, got 5"),
    ("regions: {threshold: abc}", "pipeline option 'regions.threshold' must be a float, got 'abc'"),
    ("clip: {stride: null}", "pipeline option 'clip.stride' must be an int, got None"),
    ("clip: {stride: 0}", "pipeline option 'clip.stride' must be >= 1, got 0"),
    ("tracking: {iou_threshold: x}", "pipeline option 'tracking.iou_threshold' must be a float, got 'x'"),
    ("input: {max_side: -5}", "pipeline option 'input.max_side' must be >= 0, got -5"),
    ("stamps: {reset_after_backward_jump_s: -1}", "'stamps.reset_after_backward_jump_s' must be >= 0.0, got -1.0"),
    ("evidence: {max_items: 2.5}", "pipeline option 'evidence.max_items' must be an int, got 2.5"),
    ("ground: {hfov_deg: 200}",
     "'ground.hfov_deg' must be in [0, 180) and 'ground.max_range_m' > 0, got 200.0 and 50.0"),
    ("ground: {camera_pose: [0, 0, 1]}", "pipeline option 'ground.camera_pose': camera pose needs 7 numbers"),
    ("{engine: motion_baseline, motion_baseline: {size_ref: 0}}", "motion_baseline.size_ref must be > 0, got 0.0"),
    ("{engine: motion_baseline, motion_baseline: {work_side: big}}",
     "pipeline option 'motion_baseline.work_side' must be an int, got 'big'"),
    ("behaviour: {work_side: big}", "pipeline option 'behaviour.work_side' must be an int, got 'big'"),
    ("behaviour: {attributes: [fast, teleporting]}", "behaviour.attributes: unknown ['teleporting']"),
    ("clip: {length: abc}", "pipeline option 'clip.length' must be an int, got 'abc'"),
    ("stamps: {reset_after_backward_jump_s: .nan}", "'stamps.reset_after_backward_jump_s' must be a float, got nan"),
])
def test_bad_config_values_exit_2_with_one_line_naming_the_key(clip, tmp_path, capsys, config, message):
    path = tmp_path / "bad.yaml"
    path.write_text(config + "\n")
    assert main(["run", "--video", str(clip.path), "--config", str(path), "--out", str(tmp_path / "o"),
                 "--no-video"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_large_numbers_written_as_yaml_strings_and_empty_sections_are_read(clip, tmp_path):
    path = tmp_path / "cfg.yaml"
    # YAML 1.1 reads 1e9 as a string; a section whose keys are all commented out is empty (None)
    path.write_text("evidence: {max_bytes: 1e9}\nmotion_baseline:\n  # clip_length: 5\n")
    assert main(["run", "--video", str(clip.path), "--config", str(path), "--out", str(tmp_path / "o"),
                 "--no-video"]) == 0


def test_an_output_path_that_is_a_file_is_one_line(clip, tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert main(["run", "--video", str(clip.path), "--out", str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err.strip() == (f"tvau: error: --out {tmp_path / 'taken'}: "
                                               "cannot create the output folder (File exists)")


def test_missing_ahd_checkpoint_is_one_line(tmp_path, clip):
    result = _cli("run", "--video", str(clip.path), "--checkpoint", str(tmp_path / "none.safetensors"),
                  "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"tvau: error: engine 'ahd': checkpoint not found: {tmp_path / 'none.safetensors'}"
