"""A pipeline pays its imports when it is built (the node's configure), not on the first frames
with objects: a 0.4 s import mid-stream made the node drop the frames behind it, and dropped
frames change what the behaviour engine tracks (CI run of 2ffc7a4: a walker flagged 'fast')."""
import subprocess
import sys

from tvau_ros.cli import main as tvau
from tvau_ros.io.sample_clip import generate_sample_clip

SCRIPT = """
import sys
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.io.sources import open_source

clip = generate_sample_clip(sys.argv[1], frames=60, anomaly_start=10)
frames = [f.image for f in open_source(clip.path)]
pipe = AnomalyPipeline.from_config(overrides={
    "engine": "behaviour", "scene": "plaza", "behaviour": {"scene_dir": sys.argv[2]},
    "ground": {"frame_id": "map", "camera_pose": [0, 0, 2, -0.56, 0.56, -0.43, 0.43]}})
before = set(sys.modules)
evidence = [pipe.push(image, stamp_ns=(i + 1) * 66_666_667) for i, image in enumerate(frames)]
regions = [r for e in evidence if e is not None for r in e.regions]
print(len(regions), sum(r.ground_point is not None for r in regions))
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_processing_frames_imports_no_module(tmp_path):
    normal = generate_sample_clip(tmp_path / "normal.mp4", frames=300, anomaly_start=1 << 30, start_frame=1000)
    assert tvau(["learn-normal", "--video", str(normal.path), "--scene", "plaza", "--out", str(tmp_path)]) == 0
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "clip.mp4"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    counts, imported = (out.stdout.splitlines() + [""])[:2]
    regions, grounded = (int(v) for v in counts.split())
    assert regions > 0 and grounded > 0  # objects were tracked, scored and projected to the ground
    assert imported == "", f"imported while processing frames: {imported}"
