"""ConText (Harkema et al. 2009): negated, uncertain, historical, hypothetical and family.

Triggers, pseudo-triggers and terminations are data (``rules/context_<lang>.yaml``, or a user
file in the same format). Within a sentence:

1. every rule literal is matched (Aho-Corasick; longest wins where matches overlap, so a
   pseudo-trigger such as "no increase" or 无明显诱因 hides the trigger inside it);
2. a forward trigger's scope runs to the sentence end, cut at the first terminator of its
   category (or of ``all``) and at the next trigger of the same category; a backward trigger's
   scope runs back to the sentence start with the same cuts; bidirectional does both;
3. a concept inside a scope (and not overlapping the trigger) takes the trigger's category.

Sections add their own: a concept under family history is ``family``, under past medical or
surgical history ``historical``, under patient instructions ``hypothetical``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from medai.core.errors import DataFileError, InvalidInputError, require
from medai.text.lexicon import Lexicon, Match, Term, longest, normalize, rules_text
from medai.text.segment import Span

__all__ = [
    "CATEGORIES",
    "DIRECTIONS",
    "SECTION_ATTRIBUTES",
    "ContextRules",
    "Rule",
    "Trigger",
    "apply_context",
    "context_rules",
    "section_attributes",
]

#: The attributes ConText sets, as they appear in the output.
CATEGORIES = ("negated", "uncertain", "historical", "hypothetical", "family")
DIRECTIONS = ("forward", "backward", "bidirectional")

#: Section name -> attributes every concept in that section takes.
SECTION_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "family_history": ("family",),
    "past_medical_history": ("historical",),
    "past_surgical_history": ("historical",),
    "patient_instructions": ("hypothetical",),
}


@dataclass(frozen=True)
class Rule:
    """One literal: a trigger (category + direction), a pseudo-trigger or a terminator.

    ``direction`` is one of :data:`DIRECTIONS`, ``"pseudo"`` or ``"terminate"``; for a
    terminator ``category`` is the category it ends, or ``"all"``.
    """

    literal: str
    category: str
    direction: str


@dataclass(frozen=True)
class Trigger:
    """A rule found in a text, with its scope (absolute offsets)."""

    start: int
    end: int
    category: str
    direction: str
    scope_start: int
    scope_end: int


class ContextRules:
    """A compiled rule set.

    Parameters
    ----------
    rules : sequence of Rule
        Literals; one literal may carry several rules (e.g. both a forward and a backward one).
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._by_literal: dict[str, list[Rule]] = {}
        self._patterns: dict[str, tuple[re.Pattern[str], list[Rule]]] = {}
        for r in self.rules:
            if r.literal.startswith("re:"):
                try:
                    pattern = re.compile(r.literal[3:], re.IGNORECASE)
                except re.error as exc:
                    raise DataFileError(
                        f"bad pattern {r.literal!r} in context rules: {exc}"
                    ) from None
                self._patterns.setdefault(r.literal, (pattern, []))[1].append(r)
                continue
            key = normalize(r.literal)
            if key:
                self._by_literal.setdefault(key, []).append(r)
        self._lexicon = Lexicon(Term(k, "context", k, None, "context") for k in self._by_literal)

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def from_yaml(cls, text: str, where: str = "rules") -> ContextRules:
        """Parse the YAML format of ``rules/context_en.yaml``."""
        yaml = require("yaml", "text")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataFileError(f"context rules {where!r} are not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise DataFileError(
                f"context rules {where!r} must map categories to rules; got {type(data).__name__}"
            )
        rules: list[Rule] = []
        for category, body in data.items():
            if category == "pseudo":
                rules.extend(Rule(str(lit), "pseudo", "pseudo") for lit in _items(body, where))
                continue
            if category == "terminate":
                if not isinstance(body, dict):
                    raise DataFileError(f"{where}: 'terminate' must map categories to literals")
                for cat, lits in body.items():
                    if cat != "all" and cat not in CATEGORIES:
                        raise DataFileError(
                            f"{where}: unknown category {cat!r} under 'terminate'; expected "
                            f"'all' or one of {', '.join(CATEGORIES)}"
                        )
                    rules.extend(Rule(str(lit), cat, "terminate") for lit in _items(lits, where))
                continue
            if category not in CATEGORIES:
                raise DataFileError(
                    f"{where}: unknown category {category!r}; expected one of "
                    f"{', '.join((*CATEGORIES, 'pseudo', 'terminate'))}"
                )
            if not isinstance(body, dict):
                raise DataFileError(f"{where}: {category!r} must map directions to literals")
            for direction, lits in body.items():
                if direction not in DIRECTIONS:
                    raise DataFileError(
                        f"{where}: unknown direction {direction!r} under {category!r}; "
                        f"expected {', '.join(DIRECTIONS)}"
                    )
                rules.extend(Rule(str(lit), category, direction) for lit in _items(lits, where))
        return cls(rules)

    @classmethod
    def from_file(cls, path: str | Path) -> ContextRules:
        """Read user rules in the YAML format of the bundled ones."""
        path = Path(path)
        if not path.is_file():
            raise DataFileError(f"context rules {str(path)!r} do not exist")
        return cls.from_yaml(path.read_text(encoding="utf-8"), str(path))

    def triggers(
        self, text: str, sentence: Span, concepts: Sequence[tuple[int, int]] = ()
    ) -> list[Trigger]:
        """The modifiers in one sentence with their scopes (pseudo and terminators applied).

        Rule matches overlapping one of ``concepts`` (absolute spans) are ignored: the "free"
        in "free air" is part of the finding, not a trigger.
        """
        found = self._lexicon.find_all(sentence.text)
        for literal, (pattern, _) in self._patterns.items():
            found.extend(
                Match(m.start(), m.end(), m.group(), Term(literal, "context", literal))
                for m in pattern.finditer(sentence.text)
            )
        base = sentence.start
        found = [
            m
            for m in longest(found)
            if not any(a < base + m.end and base + m.start < b for a, b in concepts)
        ]
        s_end = sentence.end
        mods: list[tuple[int, int, Rule]] = []
        ends: dict[str, list[tuple[int, int]]] = {}
        for m in found:
            key = m.term.code or ""
            rules = self._patterns[key][1] if key in self._patterns else self._by_literal[key]
            for r in rules:
                a, b = base + m.start, base + m.end
                if r.direction == "terminate":
                    ends.setdefault(r.category, []).append((a, b))
                elif r.direction != "pseudo":
                    mods.append((a, b, r))
        same: dict[str, list[tuple[int, int]]] = {}
        for a, b, r in mods:
            same.setdefault(r.category, []).append((a, b))
        out: list[Trigger] = []
        for a, b, r in mods:
            cuts = sorted(ends.get(r.category, []) + ends.get("all", []))
            others = [x for x in same[r.category] if x != (a, b)]
            lo, hi = sentence.start, s_end
            if r.direction in ("forward", "bidirectional"):
                after = [x[0] for x in cuts + others if x[0] >= b]
                hi = min(after, default=s_end)
            if r.direction in ("backward", "bidirectional"):
                before = [x[1] for x in cuts + others if x[1] <= a]
                lo = max(before, default=sentence.start)
            out.append(
                Trigger(
                    a,
                    b,
                    r.category,
                    r.direction,
                    b if r.direction == "forward" else lo,
                    a if r.direction == "backward" else hi,
                )
            )
        return out

    def apply(
        self,
        text: str,
        sentence: Span,
        concepts: Iterable[MutableMapping[str, Any]],
    ) -> list[Trigger]:
        """Set the ConText attributes of the concepts in ``sentence`` (in place).

        Concepts are mappings with absolute ``start``/``end`` and the boolean attributes of
        :data:`CATEGORIES`; a trigger never modifies a concept it overlaps.
        """
        concepts = list(concepts)
        spans = [(int(c["start"]), int(c["end"])) for c in concepts]
        triggers = self.triggers(text, sentence, spans)
        for c in concepts:
            cs, ce = int(c["start"]), int(c["end"])
            for t in triggers:
                if cs < t.end and t.start < ce:
                    continue
                forward = t.direction in ("forward", "bidirectional") and t.end <= cs
                backward = t.direction in ("backward", "bidirectional") and ce <= t.start
                inside = t.scope_start <= cs and ce <= t.scope_end
                if inside and (forward or backward):
                    c[t.category] = True
        return triggers


def _items(body: Any, where: str) -> list[str]:
    if body is None:
        return []
    if isinstance(body, str):
        return [body]
    if isinstance(body, list) and all(isinstance(x, str | int | float) for x in body):
        return [str(x) for x in body]
    raise DataFileError(f"{where}: expected a list of literals, got {body!r:.60}")


@cache
def _bundled(lang: str) -> ContextRules:
    return ContextRules.from_yaml(rules_text(f"context_{lang}.yaml"), f"context_{lang}.yaml")


def context_rules(lang: str, path: str | Path | None = None) -> ContextRules:
    """The bundled rules for ``"en"``/``"zh"``, or a user rules file."""
    if path is not None:
        return ContextRules.from_file(path)
    if lang not in ("en", "zh"):
        raise InvalidInputError(f"no context rules for language {lang!r}; expected 'en' or 'zh'")
    return _bundled(lang)


def apply_context(
    text: str,
    concepts: Sequence[MutableMapping[str, Any]],
    lang: str,
    rules: ContextRules | None = None,
) -> None:
    """Run ConText sentence by sentence over a note's concepts, then section attributes.

    Concepts are mappings with absolute ``start``/``end``, the :data:`CATEGORIES` flags and an
    optional ``section``; they are updated in place.
    """
    from medai.text.segment import sentences

    rules = rules or context_rules(lang)
    ordered = sorted(concepts, key=lambda c: int(c["start"]))
    starts = [int(c["start"]) for c in ordered]
    for sent in sentences(text, lang):
        lo = bisect.bisect_left(starts, sent.start)
        hi = bisect.bisect_left(starts, sent.end)
        inside = [c for c in ordered[lo:hi] if c["end"] <= sent.end]
        if inside:
            rules.apply(text, sent, inside)
    section_attributes(concepts)


def section_attributes(concepts: Iterable[MutableMapping[str, Any]]) -> None:
    """Apply :data:`SECTION_ATTRIBUTES` to concepts that carry a ``section`` name (in place)."""
    for c in concepts:
        for attr in SECTION_ATTRIBUTES.get(str(c.get("section") or ""), ()):
            c[attr] = True
