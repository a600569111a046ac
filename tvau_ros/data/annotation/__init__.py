"""Fine-grained annotation pipeline (paper §3.3): videos + pixel masks -> dialogue JSONL.

Stages, one module each: ``extraction`` (boxes, colours, attributes), ``timeline`` (identity
association, background-suppressed refinement), ``trajectory`` (entry/exit side, turns, speed
states), ``consistency`` (appearance <-> motion verification), ``dialogue`` (Q0-Q3 with reference
phrasings, JSONL), ``pipeline`` (one video), ``runner`` (many videos, report), ``evaluate``
(accuracy against generator ground truth), ``cli`` (``tvau data annotate``). See README.md.

Nothing is imported here so that registering the CLI stays cheap.
"""
