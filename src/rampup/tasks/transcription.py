"""Transcription metrics: word and character error rate against labelled transcripts.

WER = (substitutions + deletions + insertions) / words in the references, summed over
the whole corpus (not a mean of per-utterance rates), as ``jiwer`` computes it; CER the
same over characters. ``jiwer`` (extra ``speech``) aligns the words; it is imported only
when a transcript is scored.

Per utterance the counts ``(edits, reference words)`` are kept, so corpus WER of any
subset (a slice, a tag, a monitoring window, a bootstrap resample) is a ratio of sums.
An empty reference has no words: its insertions still count as edits (jiwer would
refuse the pair), so an empty reference with an empty hypothesis costs nothing.

>>> s = transcript_stats(["the cat sat", "hello"], ["the cat sat down", "yellow"])
>>> s.wer_edits.tolist(), s.words.tolist()
([1.0, 1.0], [3.0, 1.0])
>>> wer(["the cat sat", "hello"], ["the cat sat down", "yellow"])
0.5
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
_PUNCT = re.compile(r"[^\w\s']", re.UNICODE)
_SPACE = re.compile(r"\s+")


def _jiwer() -> Any:
    try:
        import jiwer
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ValidationError("scoring transcripts needs jiwer",
                              fix="pip install 'rampup[speech]'") from exc
    return jiwer


def normalise(text: str, *, lowercase: bool = True, punctuation: bool = True) -> str:
    """The text compared: NFKC, lower case and punctuation removed (by default), single
    spaces. Both sides go through it, so "Hello, World" matches "hello world".

    >>> normalise("  Hello,   World!  ")
    'hello world'
    """
    t = unicodedata.normalize("NFKC", text)
    if lowercase:
        t = t.lower()
    if punctuation:
        t = _PUNCT.sub(" ", t)
    return _SPACE.sub(" ", t).strip()


def as_text(value: Any, what: str) -> str:
    """A transcript from a label or an output: a string, or a dict with ``text``."""
    if isinstance(value, dict) and "text" in value:
        value = value["text"]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} {value!r} is not a transcript",
                              fix='give the text as a string (or {"text": "..."})')
    return value


@dataclass(frozen=True, eq=False)
class TranscriptStats:
    """Per utterance: word edits and reference words, character edits and characters."""

    wer_edits: FloatArray
    words: FloatArray
    cer_edits: FloatArray
    chars: FloatArray


def _edits(jiwer: Any, refs: list[str], hyps: list[str], chars: bool,
           ) -> tuple[FloatArray, FloatArray]:
    """Edits and reference units per pair, from one jiwer alignment of the non-empty
    references; pairs with an empty reference count the hypothesis' units as insertions."""
    n = len(refs)
    edits = np.zeros(n)
    units = np.zeros(n)
    keep = [i for i, r in enumerate(refs) if r]
    for i in range(n):
        if not refs[i]:
            edits[i] = len(hyps[i]) if chars else len(hyps[i].split())
    if keep:
        fn = jiwer.process_characters if chars else jiwer.process_words
        out = fn([refs[i] for i in keep], [hyps[i] for i in keep])
        for j, i in enumerate(keep):
            for chunk in out.alignments[j]:
                if chunk.type == "substitute" or chunk.type == "delete":
                    edits[i] += chunk.ref_end_idx - chunk.ref_start_idx
                elif chunk.type == "insert":
                    edits[i] += chunk.hyp_end_idx - chunk.hyp_start_idx
            units[i] = len(out.references[j])
    return edits, units


def transcript_stats(references: Sequence[Any], hypotheses: Sequence[Any], *,
                     lowercase: bool = True, punctuation: bool = True) -> TranscriptStats:
    """Per-utterance edit counts (see the module docstring)."""
    if len(references) != len(hypotheses):
        raise ValidationError(f"{len(references)} references but {len(hypotheses)} "
                              "transcripts", fix="give one transcript per reference")
    refs = [normalise(as_text(r, "reference"), lowercase=lowercase, punctuation=punctuation)
            for r in references]
    hyps = [normalise(as_text(h, "transcript"), lowercase=lowercase, punctuation=punctuation)
            for h in hypotheses]
    jiwer = _jiwer()
    we, w = _edits(jiwer, refs, hyps, chars=False)
    ce, c = _edits(jiwer, refs, hyps, chars=True)
    return TranscriptStats(we, w, ce, c)


def _ratio(num: FloatArray, den: FloatArray) -> float:
    d = float(den.sum())
    n = float(num.sum())
    if d == 0:
        return 0.0 if n == 0 else float("inf")
    return n / d


def wer(references: Sequence[Any], hypotheses: Sequence[Any], **kw: Any) -> float:
    """Corpus word error rate (can exceed 1 when the transcripts insert many words)."""
    s = transcript_stats(references, hypotheses, **kw)
    return _ratio(s.wer_edits, s.words)


def cer(references: Sequence[Any], hypotheses: Sequence[Any], **kw: Any) -> float:
    """Corpus character error rate (spaces count as characters, as in jiwer)."""
    s = transcript_stats(references, hypotheses, **kw)
    return _ratio(s.cer_edits, s.chars)
