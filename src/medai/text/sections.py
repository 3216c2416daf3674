"""Section detection: English and Chinese headers at the start of a line, as data.

A header is a literal from ``rules/sections.yaml`` at the start of a line (after optional
numbering), case-insensitive, followed by a colon (``:`` or ``：``), a closing ``】``/``]``, or
the end of the line. A section runs from its header to the next header or the end of the note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from medai.core.errors import DataFileError, require
from medai.text.lexicon import rules_text

__all__ = ["Section", "SectionRules", "find_sections", "section_rules"]


@dataclass(frozen=True)
class Section:
    """A section: ``name`` (e.g. ``family_history``), its header ``title`` and its extent."""

    name: str
    title: str
    start: int
    end: int
    body_start: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "body_start": self.body_start,
        }


class SectionRules:
    """Compiled header rules: section name -> header literals."""

    def __init__(self, headers: dict[str, list[str]]) -> None:
        self.headers = headers
        self._name = {h.lower(): name for name, hs in headers.items() for h in hs}
        alts = sorted(self._name, key=len, reverse=True)
        body = "|".join(re.escape(h) for h in alts)
        self._pattern = re.compile(
            r"^[ \t]*(?:\d{1,2}[.、)]\s*|[#*\-\u2022]+\s*)?"
            r"(?P<open>[【\[]\s*)?(?P<title>" + body + r")(?(open)\s*[】\]][:：]?|\s*(?:[:：]|$))",
            re.IGNORECASE | re.MULTILINE,
        )

    @classmethod
    def from_yaml(cls, text: str, where: str = "sections") -> SectionRules:
        yaml = require("yaml", "text")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataFileError(f"section rules {where!r} are not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
        ):
            raise DataFileError(
                f"section rules {where!r} must map section names to lists of header literals"
            )
        return cls({str(k): [str(x) for x in v] for k, v in data.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> SectionRules:
        path = Path(path)
        if not path.is_file():
            raise DataFileError(f"section rules {str(path)!r} do not exist")
        return cls.from_yaml(path.read_text(encoding="utf-8"), str(path))

    def find(self, text: str) -> list[Section]:
        """Sections of a note in order (none when it has no recognised header)."""
        hits = [
            (m.start("title") - (len(m.group("open")) if m.group("open") else 0), m)
            for m in self._pattern.finditer(text)
        ]
        out: list[Section] = []
        for i, (start, m) in enumerate(hits):
            end = hits[i + 1][0] if i + 1 < len(hits) else len(text)
            name = self._name[m.group("title").lower()]
            out.append(Section(name, m.group("title"), start, end, m.end()))
        return out


@cache
def section_rules(path: str | None = None) -> SectionRules:
    """The bundled header rules, or a user file in the same YAML format."""
    if path is not None:
        return SectionRules.from_file(path)
    return SectionRules.from_yaml(rules_text("sections.yaml"), "sections.yaml")


def find_sections(text: str) -> list[Section]:
    """Sections of a note with the bundled English and Chinese headers."""
    return section_rules().find(text)
