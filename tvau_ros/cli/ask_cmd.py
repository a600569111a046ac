"""``tvau ask``: ask questions about a recording, answered like the query service answers them.

The recording goes through the same ``AnomalyPipeline`` as ``tvau run`` (``run_offline``; its
outputs are written to ``--out`` when given), then the questions go to the same dialogue and
answerer as the query node's, as one session: follow-ups refer to the previous answer's
target. The window is the whole recording unless ``--window START:END`` (seconds of the
recording; either side may be left empty) says otherwise.

    tvau ask --video clip.mp4 --question "Is there any anomaly?" --question "What does it look like?"
    tvau ask --bag run.mcap --interactive        # one question per line; 'reset' starts over
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tvau_ros.cli import CliError
from tvau_ros.cli.run_cmd import (_positive, add_pipeline_options, add_source_options, open_source_and_pipeline,
                                  pipeline_config_from_args, source_from_args)

if TYPE_CHECKING:
    from tvau_ros.core.dialogue.dialogue import Answer

SESSION = "tvau_ask"


def _window(text: str) -> tuple[float | None, float | None]:
    start, sep, end = text.partition(":")
    try:
        values = tuple(float(v) if v.strip() else None for v in (start, end))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END in seconds, got {text!r}") from None
    if not sep or values == (None, None) or any(v is not None and v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected START:END in seconds (>= 0, one may be empty), got {text!r}")
    if None not in values and values[0] > values[1]:
        raise argparse.ArgumentTypeError(f"the window {text!r} is reversed: START is after END")
    return values


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ask", help="ask questions about a recorded video / image folder / rosbag2",
                                   description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    asking = parser.add_mutually_exclusive_group(required=True)
    asking.add_argument("--question", "-q", action="append", metavar="TEXT",
                        help="a question (repeatable: one session)")
    asking.add_argument("--interactive", "-i", action="store_true", help="read questions from the terminal")
    parser.add_argument("--window", type=_window, metavar="START:END", help="seconds of the recording to ask about")
    parser.add_argument("--answerer", default="grounded",
                        help="grounded (default), qwen2_5_vl or package.module:callable")
    parser.add_argument("--answerer-option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                        help="keyword option for the answerer (repeatable)")
    parser.add_argument("--anchors", choices=("time", "frames"), default="time",
                        help="say times in seconds (default) or as frame numbers")
    parser.add_argument("--json", action="store_true", help="print one JSON object per answer")
    parser.add_argument("--out", metavar="DIR", help="also keep tvau run's outputs (events, heatmaps, summary) here")
    parser.add_argument("--max-frames", type=_positive(int), help="stop reading after this many frames")
    parser.add_argument("--max-memory-mb", type=_positive(int), default=2048,
                        help="evidence kept for the questions (frames + heatmaps); the oldest is dropped beyond it")
    add_pipeline_options(parser)
    parser.set_defaults(func=run)


def _print(answer: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"answer": answer.text, "intent": answer.intent, "judgment": answer.judgment,
                          "confidence": round(answer.confidence, 3), "track_id": answer.track_id,
                          "window_s": [round(answer.window_start_ns / 1e9, 3), round(answer.window_end_ns / 1e9, 3)],
                          "flagged_claims": answer.flagged_claims}), flush=True)
        return
    flagged = "; ".join(answer.flagged_claims) or "none"
    print(f"{answer.text}\n  ({answer.judgment}, confidence {answer.confidence:.2f}, track {answer.track_id or '-'}, "
          f"window {answer.window_start_ns / 1e9:.2f}-{answer.window_end_ns / 1e9:.2f} s, flagged claims: {flagged})",
          flush=True)


def run(args: argparse.Namespace) -> int:
    from tvau_ros.core.dialogue.answerers import AnswererUnavailable, build_answerer
    from tvau_ros.core.dialogue.dialogue import Dialogue, DialogueConfig, QueryError
    from tvau_ros.core.dialogue.evidence_view import PipelineSource, stored_span
    from tvau_ros.core.dialogue.intents import QuestionError, check_question
    from tvau_ros.io.offline import run_offline
    from tvau_ros.io.sources import SourceError

    for i, question in enumerate(args.question or [], start=1):  # refuse bad questions before the video runs
        try:
            check_question(question)
        except QuestionError as exc:
            raise CliError(f"--question {i} ({question[:40]!r}): {exc}") from None
    kind, path = source_from_args(args)
    try:
        answerer = build_answerer(args.answerer, **dict(args.answerer_option))
    except (ValueError, AnswererUnavailable, TypeError, OSError) as exc:
        raise CliError(f"--answerer {args.answerer}: {exc}") from None
    cfg = pipeline_config_from_args(args)
    cfg["evidence"].update(max_items=1_000_000, max_bytes=args.max_memory_mb * 1024 * 1024)  # the whole recording
    source, pipeline = open_source_and_pipeline(args, kind, path, cfg)
    with tempfile.TemporaryDirectory(prefix="tvau_ask_") as scratch:
        out = Path(args.out) if args.out else Path(scratch)
        try:
            summary = run_offline(source, pipeline, out, video=False, max_frames=args.max_frames)
        except (SourceError, OSError) as exc:
            raise CliError(str(exc)) from None
    print(f"tvau ask: {summary['frames']} frames, {len(summary['anomalies'])} anomaly episode(s), "
          f"{len(pipeline.store)} clips kept for the questions", file=sys.stderr)
    span = stored_span(pipeline.store)
    if span is None:
        raise CliError(f"{path}: no frame was processed, nothing to ask about")
    if args.window:
        start, end = (int(round(v * 1e9)) if v is not None else None for v in args.window)
        window = (start if start is not None else span[0], end if end is not None else span[1])
    else:
        window = span
    window = (max(window[0], 0), max(window[1], 1))  # 0 would mean "not given" (the latest clip)
    dialogue = Dialogue(PipelineSource(pipeline), answerer, DialogueConfig(anchors=args.anchors))
    questions = iter(args.question) if args.question else _read_questions()
    failed, reset = 0, True
    for question in questions:
        if question.strip().lower() == "reset":
            reset = True
            print("(session reset)", flush=True)
            continue
        if not args.json:
            print(f"Q: {question}", flush=True)
        try:
            _print(dialogue.ask(question, SESSION, window, reset=reset), args.json)
            reset = False
        except QueryError as exc:
            failed += 1
            print(f"tvau: error: {exc}", file=sys.stderr, flush=True)
    return 2 if failed and not args.interactive else 0


def _read_questions():
    print("Ask about the recording (one question per line; 'reset' starts over, Ctrl-D ends).", file=sys.stderr)
    while True:
        try:
            line = input("? ")
        except EOFError:
            return
        if line.strip().lower() in ("quit", "exit"):
            return
        if line.strip():
            yield line
