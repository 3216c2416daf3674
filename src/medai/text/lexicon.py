"""Dictionary concept matching: one Aho-Corasick automaton over every term, any language.

Sources, in priority order when two give the same term:

1. user lexicons (CSV/TSV/YAML with ``term,label[,code][,preferred]``),
2. the bundled hand-written lexicons in ``medai/text/rules/`` (Chinese diagnoses, symptoms,
   findings, procedures, tests and drugs; English clinical shorthand),
3. English drug names from the DrugBank/MeSH-derived dictionary that the
   ``drug-named-entity-recognition`` package ships (code: DrugBank id),
4. English diagnoses and symptoms from ICD-10-CM (``simple-icd-10-cm``): descriptions and
   inclusion terms with qualifiers such as "(primary)" and ", unspecified" removed.

Matching lowercases the text (keeping offsets), maps full-width ASCII to half-width, treats any
run of whitespace as one space, requires word boundaries around Latin letters and digits, and
keeps the longest match where matches overlap (leftmost first).
"""

from __future__ import annotations

import bisect
import csv
import importlib.util
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, NamedTuple

from medai.core.errors import DataFileError, require

__all__ = [
    "LABELS",
    "Lexicon",
    "Match",
    "Term",
    "bundled_terms",
    "default_lexicon",
    "drug_terms",
    "icd10cm_terms",
    "normalize",
    "read_lexicon",
]

#: Concept labels used by the bundled lexicons; user lexicons may add their own.
LABELS = ("diagnosis", "symptom", "finding", "procedure", "test", "drug", "anatomy")

_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_WS = re.compile(r"\s+")
_ALNUM = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class Term:
    """A lexicon entry: the surface ``term`` and what it means."""

    term: str
    label: str
    code: str | None = None
    preferred: str | None = None
    source: str = "user"


class Match(NamedTuple):
    """A term found in a text: ``text[start:end]`` matched ``term``."""

    start: int
    end: int
    text: str
    term: Term


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):  # a few characters lowercase to two ("İ"): keep them as they are
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return low.translate(_FULLWIDTH)


def normalize(term: str) -> str:
    """The form a term is stored in: lowercase, half-width, single spaces, stripped."""
    return _WS.sub(" ", _lower(term)).strip()


def _normalize_text(text: str) -> tuple[str, list[int], list[int]]:
    """Normalise a text for matching; return it with a map back to original offsets.

    Runs of whitespace become one space; ``(norm_pos, shift)`` breakpoints let
    :func:`_orig` turn a position in the normalised text into one in the original.
    """
    low = _lower(text)
    if "  " not in low and "\n" not in low and "\t" not in low and "\r" not in low:
        return low, [], []
    parts: list[str] = []
    starts: list[int] = []
    shifts: list[int] = []
    last = 0
    shift = 0
    npos = 0
    for m in _WS.finditer(low):
        parts.append(low[last : m.start()])
        npos += m.start() - last
        parts.append(" ")
        npos += 1
        shift += (m.end() - m.start()) - 1
        if m.end() - m.start() > 1:
            starts.append(npos)
            shifts.append(shift)
        last = m.end()
    parts.append(low[last:])
    return "".join(parts), starts, shifts


def _orig(pos: int, starts: list[int], shifts: list[int]) -> int:
    i = bisect.bisect_right(starts, pos) - 1
    return pos + (shifts[i] if i >= 0 else 0)


class Lexicon:
    """Terms compiled into an Aho-Corasick automaton (``pyahocorasick``).

    Parameters
    ----------
    terms : iterable of Term
        Entries; when two normalise to the same string the first one wins.

    Examples
    --------
    >>> lex = Lexicon([Term("chest pain", "symptom", "R07.9")])
    >>> [(m.start, m.end, m.term.code) for m in lex.match("No chest  pain today.")]
    [(3, 15, 'R07.9')]
    """

    def __init__(self, terms: Iterable[Term] = ()) -> None:
        self._terms: dict[str, Term] = {}
        self._automaton: Any = None
        self.extend(terms)

    def extend(self, terms: Iterable[Term]) -> Lexicon:
        """Add terms (existing ones keep their meaning); returns ``self``."""
        for t in terms:
            key = normalize(t.term)
            if key and key not in self._terms:
                self._terms[key] = t
        self._automaton = None
        return self

    def __len__(self) -> int:
        return len(self._terms)

    def __contains__(self, term: str) -> bool:
        return normalize(term) in self._terms

    def get(self, term: str) -> Term | None:
        """The entry for a term, if any."""
        return self._terms.get(normalize(term))

    @property
    def terms(self) -> list[Term]:
        return list(self._terms.values())

    def _compile(self) -> Any:
        if self._automaton is None:
            ahocorasick = require("ahocorasick", "text")
            automaton = ahocorasick.Automaton()
            for key, t in self._terms.items():
                automaton.add_word(key, (len(key), t))
            if len(automaton):
                automaton.make_automaton()
            self._automaton = automaton
        return self._automaton

    def find_all(self, text: str) -> list[Match]:
        """Every match on word boundaries, overlapping ones included, sorted by position."""
        automaton = self._compile()
        if not len(automaton) or not text:
            return []
        norm, starts, shifts = _normalize_text(text)
        n = len(norm)
        out: list[Match] = []
        for end, (length, t) in automaton.iter(norm):
            a, b = end - length + 1, end + 1
            if (
                _ALNUM.match(norm[a])
                and a > 0
                and ((norm[a - 1].isalnum() and not _is_cjk(norm[a - 1])) or norm[a - 1] == "_")
            ):
                continue
            if (
                _ALNUM.match(norm[b - 1])
                and b < n
                and ((norm[b].isalnum() and not _is_cjk(norm[b])) or norm[b] == "_")
            ):
                continue
            oa = _orig(a, starts, shifts) if starts else a
            ob = _orig(b - 1, starts, shifts) + 1 if starts else b
            out.append(Match(oa, ob, text[oa:ob], t))
        out.sort(key=lambda m: (m.start, -(m.end - m.start)))
        return out

    def match(self, text: str) -> list[Match]:
        """Non-overlapping matches: leftmost first, longest at each position."""
        return longest(self.find_all(text))


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def longest(matches: Sequence[Match]) -> list[Match]:
    """Keep the longest of overlapping matches (ties: the earlier one)."""
    ranked = sorted(matches, key=lambda m: (-(m.end - m.start), m.start))
    taken: list[tuple[int, int]] = []
    keep: list[Match] = []
    for m in ranked:
        i = bisect.bisect_left(taken, (m.start, m.end))
        if i > 0 and taken[i - 1][1] > m.start:
            continue
        if i < len(taken) and taken[i][0] < m.end:
            continue
        taken.insert(i, (m.start, m.end))
        keep.append(m)
    keep.sort(key=lambda m: m.start)
    return keep


# -- user lexicons ---------------------------------------------------------------------------
def read_lexicon(path: str | Path, *, source: str | None = None) -> list[Term]:
    """Read a user lexicon: CSV/TSV with a header, or YAML.

    CSV/TSV columns: ``term`` and ``label`` (required), ``code`` and ``preferred`` (optional).
    YAML: a list of mappings with the same keys, or a mapping ``label: [terms...]``.

    Raises
    ------
    DataFileError
        The file is missing, unreadable, lacks the columns, or has rows without a term or
        label (every bad row is named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"lexicon {str(path)!r} does not exist")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise DataFileError(
                f"lexicon {str(path)!r} is neither UTF-8 nor GB18030 (bad byte at {exc.start})"
            ) from None
    src = source or f"lexicon:{path.name}"
    if path.suffix.lower() in {".yaml", ".yml"}:
        rows = _yaml_rows(text, path)
    else:
        rows = _csv_rows(text, path)
    terms: list[Term] = []
    bad: list[str] = []
    for where, row in rows:
        term = str(row.get("term") or "").strip()
        label = str(row.get("label") or "").strip()
        if not term or not label:
            missing = " and ".join(k for k, v in (("term", term), ("label", label)) if not v)
            bad.append(f"{where}: no {missing}")
            continue
        code = str(row.get("code") or "").strip() or None
        preferred = str(row.get("preferred") or "").strip() or None
        terms.append(Term(term, label, code, preferred, src))
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DataFileError(f"lexicon {str(path)!r} has {len(bad)} bad row(s): {shown}")
    if not terms:
        raise DataFileError(f"lexicon {str(path)!r} has no terms")
    return terms


def _csv_rows(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "term" not in fields or "label" not in fields:
        raise DataFileError(
            f"lexicon {str(path)!r} needs a header with 'term' and 'label' columns "
            f"(found: {', '.join(fields) or 'nothing'})"
        )
    reader.fieldnames = fields
    return [(f"line {i}", row) for i, row in enumerate(reader, start=2)]


def _yaml_rows(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    yaml = require("yaml", "text")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFileError(f"lexicon {str(path)!r} is not valid YAML: {exc}") from None
    if isinstance(data, dict):
        return [
            (f"{label!r} item {i + 1}", {"term": t, "label": label})
            for label, items in data.items()
            for i, t in enumerate(items if isinstance(items, list) else [items])
        ]
    if isinstance(data, list):
        return [
            (f"item {i + 1}", row if isinstance(row, dict) else {"term": row})
            for i, row in enumerate(data)
        ]
    raise DataFileError(
        f"lexicon {str(path)!r} must be a list of {{term, label}} mappings or a mapping "
        f"label -> [terms]; got {type(data).__name__}"
    )


# -- bundled sources -------------------------------------------------------------------------
RULES = "medai.text.rules"


def rules_text(name: str) -> str:
    """The text of a bundled rules file in ``medai/text/rules``."""
    return resources.files(RULES).joinpath(name).read_text(encoding="utf-8")


@cache
def _bundled(lang: str) -> tuple[Term, ...]:
    names = {"zh": ("concepts_zh.tsv", "drugs_zh.tsv"), "en": ("concepts_en.tsv",)}[lang]
    out: list[Term] = []
    for name in names:
        try:
            text = rules_text(name)
        except FileNotFoundError:
            continue
        for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
            term = (row.get("term") or "").strip()
            if term:
                out.append(
                    Term(
                        term,
                        (row.get("label") or "").strip(),
                        (row.get("code") or "").strip() or None,
                        (row.get("preferred") or "").strip() or None,
                        "medai",
                    )
                )
    return tuple(out)


def bundled_terms(lang: str) -> list[str]:
    """Surface strings of the bundled lexicon for ``"en"`` or ``"zh"`` (for jieba's dictionary)."""
    return [t.term for t in _bundled(lang)]


def _cache_file(name: str) -> Path:
    from medai.core.datasets import cache_dir

    return cache_dir().parent / "lexicons" / name


def _cached_rows(name: str, build: Any) -> list[list[Any]]:
    """Rows built by ``build()``, cached as JSON under ``$MEDAI_HOME/lexicons``."""
    path = _cache_file(name)
    try:
        rows: list[list[Any]] = json.loads(path.read_text(encoding="utf-8"))
        return rows
    except (OSError, ValueError):
        pass
    rows = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: rebuild next time
    return rows


_QUALIFIER = re.compile(
    r",\s*(?:unspecified|not elsewhere classified|not otherwise specified|nos)\b.*$"
    r"|\s+(?:nos|not elsewhere classified|not otherwise specified)$"
)
_DANGLING = re.compile(
    r"\b(?:of|in|on|at|to|due|due to|with|without|and|or|the|for|by|from|than|other)$"
)
_PAREN = re.compile(r"\s*[\[(][^\])]*[\])]")
_SKIP_START = ("other ", "encounter ", "personal history", "family history")


def _clean_icd(desc: str) -> str | None:
    d = desc.lower().strip()
    if d.startswith(_SKIP_START):
        return None
    d = _PAREN.sub("", d)
    d = _QUALIFIER.sub("", d).strip(" ,;")
    d = _WS.sub(" ", d).removeprefix("unspecified ")
    if "unspecified" in d or _DANGLING.search(d):
        return None  # "cellulitis of unspecified part of limb": no usable phrase
    if len(d) < 4 or len(d.split()) > 8 or not re.search("[a-z]{3}", d):
        return None
    return d


def _build_icd() -> list[list[Any]]:
    cm = require("simple_icd_10_cm", "text")
    best: dict[str, tuple[str, str, str]] = {}
    for code in cm.get_all_codes():
        if not re.match(r"^[A-U]\d", code) or "-" in code or cm.is_extended_subcategory(code):
            continue
        desc = cm.get_description(code)
        names = [desc, *cm.get_inclusion_term(code)]
        for name in names:
            term = _clean_icd(name)
            if term is None:
                continue
            old = best.get(term)
            if old is None or len(code) < len(old[1]):
                best[term] = (term, code, desc)
    rows = []
    for term, code, desc in best.values():
        c = code[0]
        n = int(code[1:3]) if code[1:3].isdigit() else 0
        label = "diagnosis"
        if c == "R":
            label = "symptom" if n < 70 else "finding"
        rows.append([term, label, code, desc])
    return rows


@cache
def icd10cm_terms() -> tuple[Term, ...]:
    """English diagnoses and symptoms with their ICD-10-CM codes (about 60,000 terms)."""
    version = _version("simple-icd-10-cm")
    rows = _cached_rows(f"icd10cm-{version}-v2.json", _build_icd)
    return tuple(Term(t, label, code, pref, "icd10cm") for t, label, code, pref in rows)


_DRUG_STOP = frozenset(
    [
        "sits",
        "oats",
        "vals",
        "modus",
        "hops",
        "sone",
        "vitae",
        "mops",
        "tris",
        "recov",
        "relif",
        "purv",
        "copal",
        "aloes",
        "mayou",
        "fargo",
        "gwizz",
        "chooz",
        "cobre",
        "eisen",
        "theon",
        "votum",
        "zeven",
        "lats",
        "rela",
        "sulp",
        "nsaid",
        "serm",
        "serms",
        "snri",
        "snris",
    ]
)


def _build_drugs() -> list[list[Any]]:
    import bz2
    import pickle

    dne = resources.files("drug_named_entity_recognition")
    # The dictionary ships inside the installed drug-named-entity-recognition package (the same
    # file its own import loads); it is never a file a user hands over.
    with bz2.open(io.BytesIO(dne.joinpath("drug_ner_dictionary.pkl.bz2").read_bytes())) as fh:
        data = pickle.load(fh)
    variants: dict[str, list[str]] = data["drug_variant_to_canonical"]
    canon: dict[str, dict[str, Any]] = data["drug_canonical_to_data"]
    vdata: dict[str, dict[str, Any]] = data.get("drug_variant_to_variant_data", {})
    rows = []
    for variant, names in variants.items():
        v = variant.strip().lower()
        if not names or v in _DRUG_STOP or not re.search("[a-z]{3}", v):
            continue
        if " " not in v:
            is_brand = bool(vdata.get(variant, {}).get("is_brand"))
            # short single words are mostly gene/assay acronyms; keep generics and brands
            if re.search(r"\d", v) or (len(v) < 6 and v != names[0] and not is_brand):
                continue
        info = canon.get(names[0], {})
        code = info.get("drugbank_id") or None
        rows.append([v, "drug", code, str(info.get("name") or names[0])])
    return rows


@cache
def drug_terms() -> tuple[Term, ...]:
    """English drug names (generic, brand, synonyms) with DrugBank ids where known."""
    if importlib.util.find_spec("drug_named_entity_recognition") is None:
        require("drug_named_entity_recognition", "text")  # raises, naming the extra
    # importing the package takes seconds (it loads its dictionary); the JSON cache does not
    version = _version("drug-named-entity-recognition")
    rows = _cached_rows(f"drugs-{version}-v1.json", _build_drugs)
    return tuple(Term(t, label, code, pref, "drugs") for t, label, code, pref in rows)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "0"


@cache
def _default(icd: bool, drugs: bool) -> Lexicon:
    lex = Lexicon(_bundled("zh")).extend(_bundled("en"))
    if drugs:
        lex.extend(drug_terms())
    if icd:
        lex.extend(icd10cm_terms())
    return lex


def default_lexicon(*, icd: bool = True, drugs: bool = True, extra: Sequence[Term] = ()) -> Lexicon:
    """The bundled lexicons (+ ICD-10-CM and drugs), with ``extra`` terms taking priority."""
    if not extra:
        return _default(icd, drugs)
    base = _default(icd, drugs)
    return Lexicon(extra).extend(base.terms)
