"""A slow answerer plug-in for the query node tests (``answerer:=slow_answerer:make``).

It loads for ``load_s`` seconds (like model weights) and streams the grounded answer word by
word, ``word_s`` apart (``slow_word_s`` for a question containing "slowly please"), like a
language model generating tokens; it honours cancellation between words.
"""
import time

from tvau_ros.core.dialogue.answerers import GroundedAnswerer


class SlowAnswerer:
    name = "slow_grounded"

    def __init__(self, word_s: float = 0.05, slow_word_s: float = 1.0):
        self.word_s, self.slow_word_s = word_s, slow_word_s
        self.grounded = GroundedAnswerer()

    def respond(self, turn, on_text=None):
        text = self.grounded.respond(turn)
        delay = self.slow_word_s if "slowly please" in turn.question else self.word_s
        out = ""
        for word in text.split():
            turn.check_cancel()
            time.sleep(delay)
            out = f"{out} {word}".strip()
            if on_text is not None:
                on_text(out)
        return out


def make(load_s: float = 0.0, **options) -> SlowAnswerer:
    time.sleep(load_s)
    return SlowAnswerer(**options)
