"""Tests of research/rae_answer_shapes.py on a hand-written ablation folder."""
import json

from research.rae_answer_shapes import main, summarise

REF = "The person enters from the left at frame 16, and exits at the bottom at frame 107."
CONST = "The person is already inside the scene at frame 41, and stops inside the scene at frame 132."


def _write(folder, slug, predictions):
    (folder / slug).mkdir(parents=True)
    rows = [{"kind": "trajectory", "prediction": p, "references": [REF]} for p in predictions]
    rows.append({"kind": "judgment", "prediction": "Yes.", "references": ["Yes."]})
    (folder / slug / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_counts_shapes_agreement_and_the_paired_lead(tmp_path, capsys):
    _write(tmp_path, "no_ahd", [CONST, CONST])
    _write(tmp_path, "full", [REF, CONST])
    out = summarise(tmp_path)
    assert {k: out["w/o AHD"][k] for k in ("turns", "distinct", "off_constant_shape", "entry_phrase_agrees")} == {
        "turns": 2, "distinct": 1, "off_constant_shape": 0, "entry_phrase_agrees": 0}
    assert out["full"]["distinct"] == 2 and out["full"]["off_constant_shape"] == 1
    assert out["full"]["entry_phrase_agrees"] == 1
    assert out["full"]["trajectory_bleu4"] > out["w/o AHD"]["trajectory_bleu4"]
    assert out["w/o AHD"]["full_minus"][0] > 0 and "w/o RAE" not in out
    assert main([str(tmp_path)]) == 0 and json.loads(capsys.readouterr().out)["full"]["turns"] == 2
    assert main([str(tmp_path / "missing")]) == 2
