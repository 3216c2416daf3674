"""PHI types, detected spans and how overlapping detections are resolved.

Types follow the HIPAA Safe Harbor identifiers plus the Chinese resident identity card:

============ ================================================================================
NAME         any person: patients, relatives, clinicians
DATE         date elements more specific than the year (a year alone is not PHI)
AGE          ages over 89
PHONE        telephone, fax and pager numbers
EMAIL        e-mail addresses
URL          web addresses
IP           IPv4 / IPv6 addresses
SSN          US social security numbers
ID_CARD      Chinese resident identity card numbers (居民身份证, checksum validated)
ID           medical record, account, health plan, licence, device and similar numbers
ADDRESS      street addresses (Chinese: province to house number)
CITY         cities, towns, counties and districts
ZIP          postal codes
INSTITUTION  hospitals, clinics, practices, schools, employers
============ ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from medai.core.errors import InvalidInputError

__all__ = ["PHI_TYPES", "Span", "parse_types", "resolve"]

PHI_TYPES = ("NAME", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID_CARD", "ID",
             "ADDRESS", "CITY", "ZIP", "INSTITUTION")  # fmt: skip
#: Which detection wins when two overlap and neither contains the other (higher first).
_PRIORITY = {"EMAIL": 9, "URL": 9, "IP": 8, "ID_CARD": 8, "SSN": 8, "PHONE": 7, "DATE": 6,
             "ID": 6, "AGE": 6, "ADDRESS": 5, "ZIP": 5, "INSTITUTION": 4, "NAME": 3,
             "CITY": 2}  # fmt: skip


@dataclass(frozen=True)
class Span:
    """One detected (or gold) PHI span.

    Attributes
    ----------
    start, end : int
        Character offsets in the note (end exclusive).
    type : str
        One of :data:`PHI_TYPES`.
    text : str
        ``note[start:end]``.
    source : str
        What found it: ``pattern``, ``context``, ``dictionary``, ``tagger``, ``propagated`` or
        ``gold``.
    score : float
        Confidence in [0, 1] (patterns with validation 1.0).
    """

    start: int
    end: int
    type: str
    text: str
    source: str = "pattern"
    score: float = 1.0

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "type": self.type, "text": self.text,
                "source": self.source, "score": round(self.score, 4)}  # fmt: skip


def parse_types(types: str | Sequence[str] | None) -> tuple[str, ...]:
    """PHI types from ``"NAME,DATE"``, a list, ``"all"`` or None (all)."""
    if types is None:
        return PHI_TYPES
    items = types.split(",") if isinstance(types, str) else list(types)
    names = [t.strip().upper() for t in items if t.strip()]
    if names == ["ALL"]:
        return PHI_TYPES
    unknown = [t for t in names if t not in PHI_TYPES]
    if unknown or not names:
        raise InvalidInputError(f"unknown PHI type(s) {unknown or types!r}; use some of "
                                f"{', '.join(PHI_TYPES)} or 'all'")  # fmt: skip
    return tuple(t for t in PHI_TYPES if t in names)


def resolve(spans: Iterable[Span], text: str) -> list[Span]:
    """Non-overlapping spans, sorted by start.

    Overlapping detections merge into one span covering both (PHI is removed either way);
    its type is that of the higher-priority detection (longer on a tie), so that an address
    containing a city stays one ADDRESS and a date inside an ID stays part of the ID.
    """
    items = sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))
    out: list[Span] = []
    for s in items:
        if s.end <= s.start:
            continue
        touching = (
            out
            and s.start == out[-1].end
            and s.type == out[-1].type
            and s.type in ("INSTITUTION", "ADDRESS")
        )  # "浙江大学" + "医学院附属第一医院"
        if out and (s.start < out[-1].end or touching):
            last = out[-1]
            key_last = (_PRIORITY.get(last.type, 0), last.end - last.start)
            key_new = (_PRIORITY.get(s.type, 0), s.end - s.start)
            contained = s.end <= last.end
            winner = last if contained or key_last >= key_new else s
            start, end = last.start, max(last.end, s.end)
            out[-1] = replace(winner, start=start, end=end, text=text[start:end],
                              score=max(last.score, s.score))  # fmt: skip
        else:
            out.append(s)
    return out
