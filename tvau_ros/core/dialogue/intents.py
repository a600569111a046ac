"""Free-form questions -> what is asked (intent), about which target, and input checks.

Intents: ``judgment`` (is anything abnormal?), ``appearance`` (what does it look like?),
``motion`` (how does it move?), ``trajectory`` (from where to where?), ``where`` (where is it
now?), ``when`` (since when / how long?), ``count`` (how many?) and ``other`` (anything else:
answered with what can be asked). Keyword rules, checked in order; the dataset's four questions
map to judgment, appearance, motion and trajectory.

>>> [classify(q).intent for q in ("Is there any anomaly in the video?", "and where did it go?",
...  "Where is it now?", "What colour are its trousers?", "When did it start?", "Sing a song")]
['judgment', 'trajectory', 'where', 'appearance', 'when', 'other']
>>> classify("What does target 2 look like?").target, classify("What colour are its trousers?").part
(2, 'bottom')
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

INTENTS = ("judgment", "appearance", "motion", "trajectory", "where", "when", "count", "other")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}

_RULES: tuple[tuple[str, str], ...] = (
    ("trajectory", r"\bfrom where\b|\bwhere (?:did|does|do|is|was) (?:it|he|she|they|the \w+) "
                   r"(?:go|going|come|coming|head|heading|move|moving|enter|leave|exit|went|came|start|end)\b|"
                   r"\bwhere .*\b(?:go|went|come|came|head|enter|leave|exit)\b|\btrajectory\b|\bpath\b|"
                   r"\broute\b|\b(?:enter|entered|exit|exited|leave|left the)\b|\bturn(?:s|ed)?\b|\bdirection\b"),
    ("count", r"\bhow many\b|\bnumber of\b|\bcount\b"),
    ("when", r"\bwhen\b|\bwhat time\b|\bhow long\b|\bsince\b|\bstart(?:ed)?\b|\bduration\b"),
    ("where", r"\bwhere\b|\blocation\b|\bposition\b|\bwhich side\b|\bhow far\b"),
    ("appearance", r"\blook(?:s)? like\b|\bwear|\bcolou?rs?\b|\bcloth|\bdress|\bappearance\b|\bwho\b|"
                   r"\bdescribe\b|\btrousers\b|\bpants\b|\bshirt\b|\btop\b|\bjacket\b"),
    ("motion", r"\bmotion\b|\bmov(?:e|es|ing|ement)\b|\bspeed\b|\bfast\b|\bslow\b|\brunning\b|\bwalking\b|"
               r"\bdoing\b|\bbehaviou?r\b|\bhow does it\b"),
    ("judgment", r"\banomal|\babnormal\b|\bunusual\b|\bwrong\b|\bstrange\b|\bsuspicious\b|\bodd\b|"
                 r"\bhappen|\bis there anything\b|\banything\b|\bok(?:ay)?\b|\bproblem\b|\bdanger|\bwhy\b"),
)
_PARTS = (("bottom", r"\btrousers\b|\bpants\b|\blegs?\b|\blower\b|\bbottom\b|\bshorts\b|\bskirt\b"),
          ("top", r"\bshirt\b|\btop\b|\bjacket\b|\bupper\b|\bcoat\b|\bsweater\b"))

# Common English words: a question none of whose words is English is refused as not English.
_ENGLISH = set("""a an the is are was were be been do does did have has had it its it's he she they them
this that these those there here what which who whom whose where when why how any anything something
nothing all some many much more most one two three of in on at to from by with about into out up down
over under after before between and or but not no yes can could would should will shall may might
must i you we me my your our please tell show describe give see look looks looking like wear wearing
colour color clothes clothing shirt trousers pants top bottom person people man woman target targets
anomaly anomalies abnormal unusual normal wrong strange video scene camera image frame frames time
now then still again go goes going went come came move moves moving moved motion speed fast slow
where's what's who's happen happened happening doing do left right side track first second last next
robot near far long since start started end ended stop stopped running walking run walk turn turned
enter entered leave exit exited path route direction trajectory position location count number
and where did it he she they object car vehicle bike ok okay anyone someone everything black white gray
grey red orange yellow green blue purple pink brown dark light big small large tall jacket coat dress
hello hi hey thanks thank help joke sing song weather name""".split())
ENGLISH_SHARE = 0.4  # share of a question's words (2+ letters) that must be common English words


class QuestionError(ValueError):
    """A question that cannot be answered as given; the message says why."""


@dataclass(frozen=True)
class Intent:
    intent: str
    target: int = 0          # "target 2" / "the second one" -> 2; 0 = not named
    track: int = 0           # "track 7" -> the pipeline's track id 7; 0 = not named
    part: str | None = None  # "top" / "bottom" for a colour question about one body part
    follow_up: bool = False  # refers back ("it", "and ...") rather than naming a target


def check_question(question: str, max_chars: int = 2000) -> str:
    """The question, stripped; QuestionError for empty, too long, invalid UTF-8 or non-English."""
    if "\ufffd" in question or any(0xD800 <= ord(c) <= 0xDFFF for c in question):
        raise QuestionError("the question is not valid UTF-8 (undecodable bytes were received)")
    text = " ".join(question.split())
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {max_chars}")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise QuestionError("the question contains control characters")
    letters = [c for c in text if c.isalpha()]
    latin = sum(c.isascii() for c in letters)
    words = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 1]
    english = sum(w in _ENGLISH for w in words)
    if letters and (latin < 0.6 * len(letters) or (len(words) > 1 and english < ENGLISH_SHARE * len(words))):
        raise QuestionError("only English questions are supported (the question is in another language or script)")
    return text


def _named_target(text: str) -> int:
    match = re.search(r"\b(?:target|person|object|number)\s*#?(\d+)\b", text)
    if match:
        return int(match.group(1))
    match = re.search(r"\bthe (first|second|third|fourth|1st|2nd|3rd|4th)\b", text)
    return _ORDINALS[match.group(1)] if match else 0


def _named_track(text: str) -> int:
    match = re.search(r"\btrack\s*(?:id\s*)?#?(\d+)\b", text)
    return int(match.group(1)) if match else 0


def classify(question: str) -> Intent:
    """The intent of a (checked) question, the target it names and the body part it asks about."""
    text = question.lower()
    intent = next((name for name, pattern in _RULES if re.search(pattern, text)), "other")
    part = None
    if intent == "appearance" and re.search(r"\bcolou?rs?\b|\bwear", text):
        part = next((name for name, pattern in _PARTS if re.search(pattern, text)), None)
    follow = (bool(re.match(r"(?:and|so|then|also)\b", text))
              or bool(re.search(r"\b(?:it|he|she|they|him|her|them)\b", text)))
    return Intent(intent, _named_target(text), _named_track(text), part, follow)
