"""The extraction pipeline: sections, concepts with ConText attributes, medication orders.

One annotation per note, as DESIGN.md fixes it::

    {"id", "lang", "sections": [...], "concepts": [{"start", "end", "text", "label", "code",
     "negated", "uncertain", "historical", "hypothetical", "family", "section", ...}],
     "medications": [...]}

Offsets are Python string indices into the original note (end exclusive). A note that
cannot be read or processed gives ``{"id", "error", "source"}`` instead, and the batch goes on.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from medai.text.context import CATEGORIES, ContextRules, apply_context, context_rules
from medai.text.io import Note, NoteError, check_text
from medai.text.lexicon import Lexicon, Match, Term, default_lexicon, longest, read_lexicon
from medai.text.medications import parse_medications
from medai.text.sections import SectionRules, section_rules
from medai.text.segment import check_lang, detect_lang

__all__ = ["NER_LABELS", "Extractor", "extract"]

Progress = Callable[[str, int, int], None]

#: CMeEE entity types -> concept labels.
NER_LABELS = {
    "dis": "diagnosis",
    "sym": "symptom",
    "pro": "procedure",
    "equ": "equipment",
    "dru": "drug",
    "ite": "test",
    "bod": "anatomy",
    "dep": "department",
    "mic": "microorganism",
}


class Extractor:
    """Sections, concepts (dictionary + optional NER model), ConText and medication orders.

    Parameters
    ----------
    lang : {"en", "zh"} or None
        Force a language; None detects it per note.
    lexicons : sequence of path or Term
        User lexicon files (CSV/TSV/YAML) or terms; they win over the bundled ones.
    icd, drugs : bool
        Include the ICD-10-CM and DrugBank-derived English vocabularies.
    context : path, optional
        User ConText rules (YAML, the format of ``rules/context_en.yaml``) for both languages.
    sections : path, optional
        User section header rules (YAML, the format of ``rules/sections.yaml``).
    ner : NerBundle or path, optional
        A trained NER model (``medai text train-ner``) whose entities join the concepts of
        notes in its language.
    """

    def __init__(
        self,
        *,
        lang: str | None = None,
        lexicons: Sequence[str | Path | Term] = (),
        icd: bool = True,
        drugs: bool = True,
        context: str | Path | None = None,
        sections: str | Path | None = None,
        ner: Any = None,
    ) -> None:
        self.lang = check_lang(lang)
        extra: list[Term] = []
        for item in lexicons:
            extra.extend([item] if isinstance(item, Term) else read_lexicon(item))
        self.lexicon: Lexicon = default_lexicon(icd=icd, drugs=drugs, extra=extra)
        self._context_path = context
        self._context: dict[str, ContextRules] = {}
        self.sections: SectionRules = section_rules(str(sections) if sections else None)
        if isinstance(ner, str | Path):
            from medai.text.ner import NerBundle

            ner = NerBundle.load(ner)
        self.ner = ner

    def rules(self, lang: str) -> ContextRules:
        if lang not in self._context:
            self._context[lang] = context_rules(lang, self._context_path)
        return self._context[lang]

    def _ner_matches(self, text: str, lang: str) -> list[Match]:
        if self.ner is None or self.ner.card.get("lang", "zh") != lang:
            return []
        out = []
        for e in self.ner.predict([text])[0]:
            label = NER_LABELS.get(e.label, e.label)
            known = self.lexicon.get(text[e.start : e.end])
            code = known.code if known is not None and known.label == label else None
            out.append(
                Match(e.start, e.end, text[e.start : e.end], Term(e.text, label, code, None, "ner"))
            )
        return out

    def extract(self, text: str, id: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """Annotate one note (see the module docstring for the output).

        Raises
        ------
        InvalidInputError
            An unknown ``lang``.
        """
        lang = check_lang(lang) or self.lang or detect_lang(text)
        secs = self.sections.find(text)
        sec_starts = [s.body_start for s in secs]
        headers = [(s.start, s.body_start) for s in secs]
        matches = self.lexicon.find_all(text)
        matches = longest(matches + self._ner_matches(text, lang))
        concepts: list[dict[str, Any]] = []
        drugs: list[Match] = []
        for m in matches:
            if any(a <= m.start < b for a, b in headers):
                continue  # a word inside a header ("Family History") is not a finding
            i = bisect.bisect_right(sec_starts, m.start) - 1
            c: dict[str, Any] = {
                "start": m.start,
                "end": m.end,
                "text": m.text,
                "label": m.term.label,
                "code": m.term.code,
                "preferred": m.term.preferred,
                "source": m.term.source,
            }
            c.update(dict.fromkeys(CATEGORIES, False))
            c["section"] = secs[i].name if i >= 0 else None
            concepts.append(c)
            if m.term.label == "drug":
                drugs.append(m)
        if concepts:
            apply_context(text, concepts, lang, self.rules(lang))
        meds = [m.to_dict() for m in parse_medications(text, drugs, lang=lang)]
        return {
            "id": id,
            "lang": lang,
            "sections": [s.to_dict() for s in secs],
            "concepts": concepts,
            "medications": meds,
        }

    def extract_many(
        self,
        notes: Iterable[Note | NoteError],
        *,
        progress: Progress | None = None,
        total: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Annotate notes one by one; a note that fails yields an error record instead."""
        for n, note in enumerate(notes, start=1):
            if isinstance(note, NoteError):
                yield note.to_dict()
            else:
                try:
                    out = self.extract(note.text, id=note.id)
                    out["source"] = note.source
                    yield out
                except (ValueError, RuntimeError, RecursionError, MemoryError) as exc:
                    yield {
                        "id": note.id,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "source": note.source,
                    }
            if progress is not None:
                progress("extracting", n, max(total, n))


def extract(text: str, *, lang: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Annotate one note with a default :class:`Extractor` (see its parameters).

    Examples
    --------
    >>> ann = extract("Denies chest pain. Metoprolol 25 mg PO BID.")      # doctest: +SKIP
    >>> [(c["text"], c["negated"]) for c in ann["concepts"]]               # doctest: +SKIP
    [('chest pain', True), ('Metoprolol', False)]
    """
    problem = check_text(text)
    if problem:
        from medai.core.errors import InvalidInputError

        raise InvalidInputError(f"cannot annotate this note: {problem}")
    return Extractor(lang=lang, **kwargs).extract(text)
