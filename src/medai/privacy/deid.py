"""De-identification of clinical notes: find PHI, then replace it by tags or surrogates.

>>> from medai.privacy.deid import Deidentifier
>>> d = Deidentifier()
>>> r = d.deidentify("Mr. John Smith was seen on 03/05/2023.", patient_id="P1")
>>> r.text
'Mr. [NAME] was seen on [DATE].'

Detection combines, per language, validated patterns, context cues and name/place
dictionaries (:mod:`medai.privacy.english`, :mod:`medai.privacy.chinese`) with an optional
trained sequence tagger (:mod:`medai.privacy.tagger`); overlapping detections are merged
(:func:`medai.privacy.phi.resolve`). A policy (``types``) says which PHI types are removed;
the others stay in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medai.core.errors import InvalidInputError
from medai.privacy.phi import Span, parse_types, resolve
from medai.privacy.surrogate import Surrogates, tag

__all__ = ["MODES", "DeidResult", "Deidentifier"]

MODES = ("tags", "surrogate")
MAX_CHARS = 5_000_000


@dataclass
class DeidResult:
    """A de-identified note.

    Attributes
    ----------
    text : str
        The note with PHI replaced.
    spans : list of Span
        What was replaced, with offsets in the ORIGINAL note.
    replacements : list of (int, int, str)
        For each span, its start and end in the NEW text and its replacement.
    lang : str
    """

    text: str
    spans: list[Span]
    replacements: list[tuple[int, int, str]] = field(default_factory=list)
    lang: str = "en"

    def standoff(self) -> list[dict[str, Any]]:
        """Audit records (no original PHI text): offsets in both texts, type, source, score."""
        return [{"start": s.start, "end": s.end, "type": s.type, "source": s.source,
                 "score": round(s.score, 3), "out_start": a, "out_end": b}
                for s, (a, b, _) in zip(self.spans, self.replacements, strict=True)]  # fmt: skip


class Deidentifier:
    """Finds and replaces PHI in English and Chinese notes.

    Parameters
    ----------
    lang : {"auto", "en", "zh"}
        ``auto`` decides per note (Chinese when at least 15% of letters are CJK).
    types : str or sequence of str, optional
        PHI types to remove (default: all of :data:`~medai.privacy.phi.PHI_TYPES`).
    tagger : "default", a folder, a tagger object or None
        Trained sequence taggers added to the rules: ``"default"`` uses medai's bundled
        ones (``medai/privacy/models``), a folder its ``tagger_en.crfsuite`` /
        ``tagger_zh.crfsuite``; None uses the rules only.
    min_score : float
        Rule detections scoring below it are ignored.
    tagger_types, tagger_min_score, tagger_langs
        Which tagger detections are used: by default every PHI type the tagger finds with a
        score of at least 0.3, in both languages (chosen on the notes of training authors
        held out from a tagger's training, where 0.3 found 0.4 points more PHI than 0.5 at
        0.1 points of precision, and on the development notes).
    key : str, optional
        Secret for consistent surrogates (see :class:`~medai.privacy.surrogate.Surrogates`).
    """

    def __init__(
        self,
        lang: str = "auto",
        types: str | Sequence[str] | None = None,
        tagger: Any = "default",
        min_score: float = 0.5,
        key: str | None = None,
        tagger_types: Sequence[str] | None = None,
        tagger_min_score: float = 0.3,
        tagger_langs: Sequence[str] = ("en", "zh"),
    ) -> None:
        if lang not in ("auto", "en", "zh"):
            raise InvalidInputError(f"lang must be 'auto', 'en' or 'zh', got {lang!r}")
        if not 0 <= min_score <= 1:
            raise InvalidInputError(f"min_score must be in [0, 1], got {min_score}")
        self.lang = lang
        self.types = parse_types(types)
        self.min_score = min_score
        if isinstance(tagger, str | Path):
            from medai.privacy.tagger import default_tagger

            tagger = default_tagger(None if tagger == "default" else tagger)
        self.tagger = tagger
        self.tagger_types = parse_types(list(tagger_types) if tagger_types is not None else None)
        self.tagger_min_score = tagger_min_score
        self.tagger_langs = tuple(tagger_langs)
        self.surrogates = Surrogates(key)

    def language(self, text: str) -> str:
        if self.lang != "auto":
            return self.lang
        from medai.text.segment import detect_lang

        return detect_lang(text)

    def find(self, text: str, lang: str | None = None) -> list[Span]:
        """PHI spans of the types in the policy, non-overlapping, sorted by start."""
        if not isinstance(text, str):
            raise InvalidInputError(f"a note must be a string, got {type(text).__name__}")
        if len(text) > MAX_CHARS:
            raise InvalidInputError(f"the note has {len(text):,} characters; the limit is "
                                    f"{MAX_CHARS:,} (split it)")  # fmt: skip
        lang = lang or self.language(text)
        if lang == "zh":
            from medai.privacy.chinese import find_chinese

            spans = find_chinese(text)
        else:
            from medai.privacy.english import find_english

            spans = find_english(text)
        spans = [s for s in spans if s.score >= self.min_score]
        if self.tagger is not None and lang in self.tagger_langs:
            found = [s for s in self.tagger.find(text, lang)
                     if s.type in self.tagger_types and s.score >= self.tagger_min_score]  # fmt: skip
            spans += _tagger_spans(found, lang, text)
        return [s for s in resolve(spans, text) if s.type in self.types]

    def deidentify(
        self, text: str, *, patient_id: str | None = None, mode: str = "tags",
        lang: str | None = None,
    ) -> DeidResult:  # fmt: skip
        """Replace PHI by ``[TYPE]`` tags (``mode="tags"``) or consistent surrogates.

        ``patient_id`` keys the surrogates and the date shift (default: one shared id, so
        give it when notes of several patients are processed).
        """
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
        lang = lang or self.language(text)
        spans = self.find(text, lang)
        out, reps, pos, length = [], [], 0, 0
        patient = str(patient_id) if patient_id is not None else ""
        for s in spans:
            out.append(text[pos : s.start])
            length += s.start - pos
            if mode == "tags":
                new = tag(s.type)
            else:
                new = self.surrogates.replace(s.type, s.text, patient, lang == "zh")
            reps.append((length, length + len(new), new))
            out.append(new)
            length += len(new)
            pos = s.end
        out.append(text[pos:])
        return DeidResult("".join(out), spans, reps, lang)


# a word starting like a month, in any of several languages (March, Sept., novembre, mars) or
# 月/日/号: looser than english._MONTH on purpose, as the tagger also sees foreign dates
_MONTH = re.compile(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|[月日号]")


def _valid_date(value: str) -> bool:
    """A date needs a month word (May, 5月) or numbers that make one: two numbers are a month
    and a day (either order) or a year and a month; one number alone is not a date
    ("2023", "14"), nor is a score or a fraction ("20/25", "15/24")."""
    nums = [int(x) for x in re.findall(r"\d+", value)]
    if _MONTH.search(value) or len(nums) > 2:
        return True
    if len(nums) < 2:
        return False
    a, b = nums
    md = lambda m, d: 1 <= m <= 12 and 1 <= d <= 31  # noqa: E731
    return md(a, b) or md(b, a) or (1900 <= a <= 2099 and 1 <= b <= 12)


def _tagger_spans(spans: Sequence[Span], lang: str, text: str) -> Iterator[Span]:
    """The tagger's detections that look like PHI of their type, cut at a line end or a
    table's column gap (except addresses and institutions, which may wrap)."""
    for span in spans:
        if span.type not in ("ADDRESS", "INSTITUTION"):
            gap = re.search(r"\n|\t|\s{3}", span.text)
            if gap:
                value = span.text[: gap.start()].rstrip()
                if not value:
                    continue
                span = replace(span, end=span.start + len(value), text=value)
        if _plausible(span, lang, text):
            yield span


def _plausible(span: Span, lang: str, text: str) -> bool:
    """Dates must be valid; phone numbers need 4 digits, IDs 4 characters with a digit, IPs
    their shape. A name must have no digits or brackets; in English not only clinical words
    ("sudden death"); in Chinese a known surname alone (罗主任), two to twelve characters
    (阿依夏木·买买提明) or a Latin-script name (其妻Sarah Thompson), not the middle of a word
    (卡马西平, 儿童心电图).
    """
    value = span.text
    if span.type == "DATE":
        return _valid_date(value)
    if span.type == "PHONE":
        return len(re.findall(r"\d", value)) >= 4 and not re.fullmatch(
            r"(?:19|20)\d\d-(?:19|20)\d\d", value
        )
    if span.type == "ID":
        return len(value) >= 4 and bool(re.search(r"\d", value)) and "(" not in value
    if span.type == "IP":
        return bool(re.match(r"\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:]*:", value))
    if span.type != "NAME":
        return True
    if re.search(r"[\d(/%:;]", value):
        return False
    if lang == "zh":
        from medai.privacy.chinese import _common, _medical
        from medai.privacy.gazetteer import gazetteer

        before, after = text[span.start - 1 : span.start], text[span.end : span.end + 1]
        if (before and _common(before + value[0], 1000)) or (after and _common(value[-1] + after, 1000)) \
                or any(_medical(text[max(0, span.start - k) : span.end]) for k in (1, 2)):  # fmt: skip
            return False
        if re.fullmatch(r"[\u4e00-\u9fff]", value):
            return value in gazetteer().zh_surnames
        return bool(re.fullmatch(r"[\u4e00-\u9fff·]{2,12}|[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*", value))
    from medai.privacy.english import _clinical_words

    clinical = _clinical_words()
    return not all(w.lower() in clinical for w in re.findall(r"[^\W\d_]+", value))
