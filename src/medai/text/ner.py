"""Chinese clinical named-entity recognition: a character-level BiLSTM-CRF tagger.

Pipeline
--------
read (CMeEE ``text|||start end type|||...``, CoNLL BIO/BIOES, JSON Lines)
-> windows (long sentences cut at ``。；！？`` into pieces of at most ``max_len`` characters)
-> characters (NFKC per character, lower case, ASCII digits -> ``0``) and character bigrams
-> embeddings -> BiLSTM -> per-tag emissions -> linear-chain CRF (implemented here in torch:
forward algorithm, Viterbi, forward-backward; vectorised over the batch, masked for padding)
-> entities with Python string offsets into the original text, end exclusive.

Nested entities
---------------
CMeEE nests entities (mostly a body part ``bod`` inside a symptom ``sym``, e.g. a symptom span
that contains its body part). A single flat BIO tagger can only output one of them, so the tagger
has a ``scheme``:

``"per-type"`` (default)
    One CRF head per entity type, each with tags ``O/B/I`` and its own transitions, sharing the
    encoder. Entities of different types may nest or overlap (``sym`` over ``bod`` is kept);
    within one type the longer, outer span is kept for training.
``"flat-outer"``
    One CRF over ``O`` and ``B-/I-<type>``; for training, nested gold keeps the longer outer span.
``"flat-inner"``
    As above, keeping the shorter inner span.

Measured strict F1 on the CMeEE ``val_data.txt`` (training on the first 6,000 training
sentences, seed 0): after 10 epochs ``per-type`` 52.7, ``flat-inner`` 51.8; after 4 epochs
``flat-inner`` 48.9, ``flat-outer`` 47.4, ``per-type`` 47.3 (it starts slower; see
``scheme_comparison`` in ``benchmarks/results/text_cmeee.json``). So ``per-type`` is the
default and, for a single flat CRF, keeping the inner spans beats keeping the outer ones.
Evaluation always compares against the full nested gold standard.

Confidence
----------
:meth:`NerBundle.explain` scores each entity with its exact marginal probability under the CRF:
the probability, summed over all tag paths, that the tags ``B, I, ..., I`` cover the span and
the next character does not continue it (forward-backward, computed in float64).
"""

from __future__ import annotations

import copy
import functools
import html
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from medai.core import report as rp
from medai.core.bundle import Bundle, base_card, package_versions
from medai.core.errors import BundleError, DataFileError, InvalidInputError, require

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure
    from torch import nn

__all__ = [
    "SCHEMES",
    "Entity",
    "NerBundle",
    "NerExample",
    "crf_forward_backward",
    "crf_log_partition",
    "crf_score",
    "crf_viterbi",
    "evaluate_ner",
    "load_ner_data",
    "ner_metrics",
    "read_bio",
    "read_cmeee",
    "read_ner_jsonl",
    "read_texts",
    "split_windows",
    "train_ner",
]

Progress = Callable[[str, int, int], None]
Errors = Literal["raise", "skip"]
SCHEMES = ("per-type", "flat-outer", "flat-inner")
FORMATS = ("auto", "cmeee", "bio", "jsonl")
WEIGHTS = "model.safetensors"
VOCAB = "vocab.json"
PAD, UNK = 0, 1
#: constrained transitions get this score instead of -inf (keeps gradients and sums finite)
_FORBIDDEN = -1.0e4
_SENTENCE_END = frozenset("。；！？!?;\n")
_CLAUSE_END = frozenset("，,、：:")


class Entity(NamedTuple):
    """One entity: ``text[start:end]`` (Python string offsets, end exclusive) of type ``label``."""

    start: int
    end: int
    label: str
    text: str


class NerExample(NamedTuple):
    """A sentence (or note) and its gold entities (possibly nested or overlapping)."""

    text: str
    entities: list[Entity]


# --- reading ---------------------------------------------------------------------------------
def _read_lines(path: str | Path) -> tuple[str, list[str]]:
    """Decode a text file (UTF-8, else GB18030) into lines without their line endings.

    Only ``\\n`` separates lines (``str.splitlines`` would also split on characters such as
    U+2028 inside a sentence and shift every offset after them).
    """
    p = Path(path)
    name = str(p)
    if not p.is_file():
        raise DataFileError(f"{name!r} does not exist or is not a file")
    raw = p.read_bytes()
    if not raw.strip():
        raise DataFileError(f"{name!r} is empty; expected NER data (CMeEE, BIO or JSON Lines)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            line = raw[: exc.start].count(b"\n") + 1
            raise DataFileError(
                f"{name!r} is not UTF-8 (undecodable byte at line {line}, byte offset "
                f"{exc.start}) nor GB18030 text; re-save it as UTF-8"
            ) from None
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    return name, lines


def _check_span(name: str, lineno: int, text: str, start: int, end: int, what: str) -> str | None:
    """The problem with an entity's offsets (end exclusive), or None when they are valid."""
    if start < 0 or end > len(text):
        return (
            f"{name} line {lineno}: entity {what} is out of range for a text of "
            f"{len(text)} characters"
        )
    if end <= start:
        return f"{name} line {lineno}: entity {what} ends before it starts (or is empty)"
    return None


def _problem(
    msg: str, errors: Errors, skipped: list[str] | None, action: str = "drop such entities"
) -> None:
    if errors == "raise":
        raise DataFileError(
            f"{msg}; fix the line, or pass errors='skip' (CLI: --skip-bad-entities) to {action}"
        )
    if skipped is not None:
        skipped.append(msg)


def _check_errors(errors: str) -> None:
    if errors not in ("raise", "skip"):
        raise InvalidInputError(f"errors={errors!r}; use 'raise' or 'skip'")


def _finish(name: str, examples: list[NerExample]) -> list[NerExample]:
    if not examples:
        raise DataFileError(f"{name!r} holds no sentences; expected NER data")
    return examples


def _entity(text: str, start: int, end: int, label: str) -> Entity:
    return Entity(start, end, label, text[start:end])


def _dedupe(entities: list[Entity]) -> list[Entity]:
    return sorted(set(entities), key=lambda e: (e.start, -e.end, e.label))


def _json_object(line: str, name: str, lineno: int, hint: str) -> dict[str, Any]:
    """One JSON Lines record with a string ``"text"``; errors name the file and line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"{name} line {lineno}: not valid JSON ({exc.msg} at column {exc.colno}); {hint}"
        ) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise DataFileError(f"{name} line {lineno}: expected an object with a string 'text'")
    return obj


def read_cmeee(
    path: str | Path, *, errors: Errors = "raise", skipped: list[str] | None = None
) -> list[NerExample]:
    """Read the CMeEE format: ``text|||start end type|||...`` per line, end **inclusive**.

    Fields of an entity are separated by whitespace; a trailing ``|||`` and Windows line
    endings are accepted; a line without ``|||`` is a sentence without entities.

    Parameters
    ----------
    path
        The file (UTF-8, or GB18030 as a fallback).
    errors
        ``"raise"``: an entity with offsets out of range or ending before it starts raises
        :class:`~medai.core.errors.DataFileError` naming the line; ``"skip"``: such entities
        are dropped (the sentence is kept) and described in ``skipped``.
    skipped
        A list to which a message is appended for every dropped entity.

    Returns
    -------
    list of NerExample
        Entities converted to Python offsets (end exclusive), duplicates removed.
    """
    _check_errors(errors)
    name, lines = _read_lines(path)
    out: list[NerExample] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        text, *fields = line.split("|||")
        ents: list[Entity] = []
        for field in fields:
            if not field.strip():
                continue
            parts = field.split()
            if len(parts) != 3 or not (_is_int(parts[0]) and _is_int(parts[1])):
                raise DataFileError(
                    f"{name} line {lineno}: entity field {field.strip()!r} is not "
                    "'START END TYPE' (integers, end inclusive); is this a CMeEE file?"
                )
            start, end = int(parts[0]), int(parts[1]) + 1
            what = f"{field.strip()!r}"
            problem = _check_span(name, lineno, text, start, end, what)
            if problem is not None:
                _problem(problem, errors, skipped)
                continue
            ents.append(_entity(text, start, end, parts[2]))
        out.append(NerExample(text, _dedupe(ents)))
    return _finish(name, out)


def _is_int(s: str) -> bool:
    return bool(re.fullmatch(r"-?\d+", s))


_TAG = re.compile(r"(?:([BIEMS])[-_](\S+))|O")


def read_bio(
    path: str | Path, *, errors: Errors = "raise", skipped: list[str] | None = None
) -> list[NerExample]:
    """Read CoNLL-style tagged characters: ``TOKEN TAG`` per line, a blank line between sentences.

    The separator is a tab or a space (the last one on the line, so a space character can be
    a token when tabs separate). Tags follow BIO or BIOES/BMES: ``O``, ``B-T``, ``I-T``,
    ``M-T``, ``E-T``, ``S-T`` (``_`` also accepted for ``-``). Tokens are concatenated without
    separators to form the text (the tagger is character-level); a multi-character token gets
    its tag over all its characters. Lines starting with ``-DOCSTART-`` are ignored.

    Parameters
    ----------
    errors
        ``"raise"``: an ``I-``/``M-``/``E-`` tag that does not continue an entity of the same
        type raises :class:`~medai.core.errors.DataFileError` naming the line; ``"skip"``: it
        starts a new entity instead and a message is appended to ``skipped``. Unknown tags and
        lines without a tag always raise.
    """
    _check_errors(errors)
    name, lines = _read_lines(path)
    out: list[NerExample] = []
    chars: list[str] = []
    ents: list[Entity] = []
    cur: tuple[int, str] | None = None  # (start, label) of the open entity
    pos = 0
    prev_end = 0

    def close() -> None:
        nonlocal cur
        if cur is not None:
            ents.append(Entity(cur[0], prev_end, cur[1], ""))
            cur = None

    def flush() -> None:
        nonlocal chars, ents, pos
        close()
        if chars:
            text = "".join(chars)
            out.append(NerExample(text, _dedupe([_entity(text, *e[:3]) for e in ents])))
        chars, ents, pos = [], [], 0

    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            flush()
            continue
        if line.startswith("-DOCSTART-"):
            continue
        sep = "\t" if "\t" in line else " "
        token, _, tag = line.rpartition(sep)
        tag = tag.strip()
        if not token or not tag:
            raise DataFileError(
                f"{name} line {lineno}: expected 'TOKEN TAG' (tab or space separated); "
                "is this a BIO/CoNLL file?"
            )
        m = _TAG.fullmatch(tag)
        if m is None:
            raise DataFileError(
                f"{name} line {lineno}: unknown tag {tag!r}; expected O, B-TYPE, I-TYPE, "
                "M-TYPE, E-TYPE or S-TYPE"
            )
        start, end = pos, pos + len(token)
        chars.append(token)
        pos = end
        prefix, label = m.group(1), m.group(2)
        if prefix is None:
            close()
        elif prefix in "BS":
            close()
            cur = (start, label)
        else:
            if cur is None or cur[1] != label:
                after = "O or the start" if cur is None else f"an entity of type {cur[1]!r}"
                _problem(
                    f"{name} line {lineno}: tag {tag!r} follows {after}; an entity must "
                    "start with B- (or S-)",
                    errors,
                    skipped,
                    "read such a tag as the start of a new entity",
                )
                close()
                cur = (start, label)
        prev_end = end
        if prefix in ("S", "E"):
            close()
    flush()
    return _finish(name, out)


def read_ner_jsonl(
    path: str | Path, *, errors: Errors = "raise", skipped: list[str] | None = None
) -> list[NerExample]:
    """Read JSON Lines: ``{"text": ..., "entities": [{"start", "end", "label"}, ...]}``.

    Offsets are Python string indices, end exclusive (``"type"`` is accepted for ``"label"``;
    an entity's optional ``"text"`` must equal ``text[start:end]``).

    Parameters
    ----------
    errors
        ``"raise"``: an entity with bad offsets or a mismatching ``"text"`` raises
        :class:`~medai.core.errors.DataFileError` naming the line; ``"skip"``: it is dropped
        and described in ``skipped``. Bad JSON and a missing ``"text"`` always raise.
    """
    _check_errors(errors)
    name, lines = _read_lines(path)
    out: list[NerExample] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = _json_object(line, name, lineno, "each line must be one JSON object")
        text: str = obj["text"]
        raw_ents = obj.get("entities", [])
        if not isinstance(raw_ents, list):
            raise DataFileError(f"{name} line {lineno}: 'entities' must be a list")
        ents: list[Entity] = []
        for k, e in enumerate(raw_ents):
            label = e.get("label", e.get("type")) if isinstance(e, dict) else None
            if (
                not isinstance(e, dict)
                or not all(_is_json_int(e.get(key)) for key in ("start", "end"))
                or not isinstance(label, str)
                or not label
            ):
                raise DataFileError(
                    f"{name} line {lineno}: entity {k} must be an object with integer 'start' "
                    "and 'end' and a string 'label'"
                )
            start, end = int(e["start"]), int(e["end"])
            what = f"{k} ({start}, {end}, {label!r})"
            problem = _check_span(name, lineno, text, start, end, what)
            if problem is None and "text" in e and e["text"] != text[start:end]:
                problem = (
                    f"{name} line {lineno}: entity {what} has a 'text' that differs from "
                    "text[start:end] (offsets must be Python string indices, end exclusive)"
                )
            if problem is not None:
                _problem(problem, errors, skipped)
                continue
            ents.append(_entity(text, start, end, label))
        out.append(NerExample(text, _dedupe(ents)))
    return _finish(name, out)


def _is_json_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_READERS = {"cmeee": read_cmeee, "bio": read_bio, "jsonl": read_ner_jsonl}
_BIO_LINE = re.compile(r"\S+[\t ]+(?:O|[BIEMS][-_]\S+)")


def detect_format(path: str | Path) -> str:
    """``cmeee``, ``bio`` or ``jsonl`` from the suffix, else from the first non-blank line."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".bio", ".bioes", ".bmes", ".iob", ".conll", ".tsv"):
        return "bio"
    name, lines = _read_lines(p)
    first = next(ln for ln in lines if ln.strip())
    if first.lstrip().startswith("{"):
        return "jsonl"
    if "|||" in first:
        return "cmeee"
    if _BIO_LINE.fullmatch(first.strip()):
        return "bio"
    raise DataFileError(
        f"cannot tell the format of {name!r}: its first line is neither CMeEE "
        "('text|||start end type|||'), BIO ('TOKEN TAG') nor JSON; pass format="
        "'cmeee', 'bio' or 'jsonl' (CLI: --format)"
    )


def load_ner_data(
    path: str | Path,
    format: str = "auto",
    *,
    errors: Errors = "raise",
    skipped: list[str] | None = None,
) -> list[NerExample]:
    """Read NER data in ``format`` (``auto``, ``cmeee``, ``bio`` or ``jsonl``).

    ``auto`` decides by suffix (``.jsonl``/``.json``; ``.bio``/``.conll``/``.tsv``/...) and
    otherwise by the first non-blank line. See :func:`read_cmeee` for ``errors``/``skipped``.
    """
    if format not in FORMATS:
        raise InvalidInputError(f"format {format!r} is unknown; use one of {FORMATS}")
    fmt = detect_format(path) if format == "auto" else format
    return _READERS[fmt](path, errors=errors, skipped=skipped)


def read_texts(path: str | Path) -> list[tuple[int, str, Any]]:
    """Texts to tag: ``(line number, text, id or None)`` for each non-blank line.

    JSON Lines (suffix ``.jsonl``/``.json``/``.ndjson``, or a first non-blank line starting
    with ``{``) give each object's ``"text"`` and optional ``"id"``; any other file gives one
    text per line (UTF-8, else GB18030).
    """
    name, lines = _read_lines(path)
    first = next((ln for ln in lines if ln.strip()), "")
    is_json = Path(path).suffix.lower() in (".jsonl", ".json", ".ndjson") or first.lstrip(
        "\ufeff "
    ).startswith("{")
    out: list[tuple[int, str, Any]] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not is_json:
            out.append((lineno, line, None))
            continue
        obj = _json_object(line, name, lineno, "each line must be one JSON object with a 'text'")
        out.append((lineno, obj["text"], obj.get("id")))
    return out


def _as_examples(data: Sequence[NerExample] | str | Path, what: str) -> list[NerExample]:
    if isinstance(data, str | Path):
        return load_ner_data(data)
    out = []
    for i, ex in enumerate(data):
        if not isinstance(ex, tuple) or len(ex) != 2 or not isinstance(ex[0], str):
            raise InvalidInputError(
                f"{what} item {i} is a {type(ex).__name__}; expected NerExample(text, entities)"
            )
        ents = [e if isinstance(e, Entity) else _entity(ex[0], *e[:3]) for e in ex[1]]
        for e in ents:
            if not 0 <= e.start < e.end <= len(ex[0]):
                raise InvalidInputError(
                    f"{what} item {i}: entity ({e.start}, {e.end}, {e.label!r}) is out of "
                    f"range for a text of {len(ex[0])} characters (end exclusive)"
                )
        out.append(NerExample(ex[0], ents))
    if not out:
        raise InvalidInputError(f"{what} holds no sentences")
    return out


# --- windows and encoding --------------------------------------------------------------------
def _cut(text: str, lo: int, hi: int, ends: frozenset[str]) -> list[tuple[int, int]]:
    pieces, start = [], lo
    for i in range(lo, hi):
        if text[i] in ends:
            pieces.append((start, i + 1))
            start = i + 1
    if start < hi:
        pieces.append((start, hi))
    return pieces


def split_windows(text: str, max_len: int = 256) -> list[tuple[int, int]]:
    """Cut ``text`` into consecutive windows ``(start, end)`` of at most ``max_len`` characters.

    Sentences (ending in ``。；！？!?;`` or a newline) are packed greedily into windows; a
    sentence longer than ``max_len`` is cut at clause marks (``，,、：:``), and a clause longer
    than that at ``max_len``. The windows cover the text exactly, in order, without overlap.
    """
    if max_len < 1:
        raise InvalidInputError(f"max_len must be >= 1; got {max_len}")
    n = len(text)
    if n <= max_len:
        return [(0, n)] if n else []
    pieces: list[tuple[int, int]] = []
    for s, e in _cut(text, 0, n, _SENTENCE_END):
        if e - s <= max_len:
            pieces.append((s, e))
            continue
        for cs, ce in _cut(text, s, e, _CLAUSE_END):
            pieces.extend((k, min(k + max_len, ce)) for k in range(cs, ce, max_len))
    windows: list[tuple[int, int]] = []
    for s, e in pieces:
        if windows and e - windows[-1][0] <= max_len:
            windows[-1] = (windows[-1][0], e)
        else:
            windows.append((s, e))
    return windows


@functools.lru_cache(maxsize=65536)
def _norm_char(c: str) -> str:
    n = unicodedata.normalize("NFKC", c)
    if len(n) != 1:
        n = c
    n = n.lower()
    if "0" <= n <= "9":
        return "0"
    return " " if n.isspace() else n


def _bigrams(chars: list[str]) -> list[str]:
    return [a + b for a, b in zip(chars, [*chars[1:], "\x00"], strict=True)]


class _Vocab:
    """Character and bigram ids (0 padding, 1 unknown)."""

    def __init__(self, chars: list[str], bigrams: list[str]) -> None:
        self.chars = chars
        self.bigrams = bigrams
        self.char_id = {c: i for i, c in enumerate(chars)}
        self.bigram_id = {b: i for i, b in enumerate(bigrams)}

    @classmethod
    def build(cls, texts: list[str], min_freq: int, bigram_min_freq: int) -> _Vocab:
        cc: Counter[str] = Counter()
        bc: Counter[str] = Counter()
        for t in texts:
            norm = [_norm_char(c) for c in t]
            cc.update(norm)
            bc.update(_bigrams(norm))
        chars = ["<pad>", "<unk>", *sorted(c for c, k in cc.items() if k >= min_freq)]
        bigrams = ["<pad>", "<unk>", *sorted(b for b, k in bc.items() if k >= bigram_min_freq)]
        return cls(chars, bigrams)

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        norm = [_norm_char(c) for c in text]
        cid = np.fromiter((self.char_id.get(c, UNK) for c in norm), np.int64, len(norm))
        bid = np.fromiter((self.bigram_id.get(b, UNK) for b in _bigrams(norm)), np.int64, len(norm))
        return cid, bid

    def to_json(self) -> dict[str, list[str]]:
        return {"chars": self.chars, "bigrams": self.bigrams}


# --- tag schemes -----------------------------------------------------------------------------
def _n_heads_tags(scheme: str, n_labels: int) -> tuple[int, int]:
    return (n_labels, 3) if scheme == "per-type" else (1, 1 + 2 * n_labels)


def _constraints(scheme: str, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Additive masks (H, K, K) for transitions and (H, K) for the first tag (BIO rules)."""
    h, k = _n_heads_tags(scheme, n_labels)
    trans = np.zeros((h, k, k), np.float32)
    start = np.zeros((h, k), np.float32)
    if scheme == "per-type":
        trans[:, 0, 2] = _FORBIDDEN  # O -> I
        start[:, 2] = _FORBIDDEN
    else:
        for j in range(n_labels):
            i_tag = 2 + 2 * j
            allowed = {1 + 2 * j, i_tag}
            for prev in range(k):
                if prev not in allowed:
                    trans[0, prev, i_tag] = _FORBIDDEN
            start[0, i_tag] = _FORBIDDEN
    return trans, start


def _select_spans(entities: list[Entity], scheme: str) -> list[Entity]:
    """The non-overlapping entities a flat tagger (per type, for ``per-type``) is trained on."""
    inner = scheme == "flat-inner"

    def pick(ents: list[Entity]) -> list[Entity]:
        order = sorted(
            ents, key=lambda e: ((e.end - e.start) if inner else -(e.end - e.start), e.start)
        )
        kept: list[Entity] = []
        for e in order:
            if all(e.end <= k.start or k.end <= e.start for k in kept):
                kept.append(e)
        return kept

    if scheme != "per-type":
        return pick(entities)
    out: list[Entity] = []
    for label in sorted({e.label for e in entities}):
        out.extend(pick([e for e in entities if e.label == label]))
    return out


def _encode_tags(
    n: int, entities: list[Entity], scheme: str, label_id: dict[str, int]
) -> np.ndarray:
    """Tags (n, H) for non-overlapping (per head) entities."""
    h, _ = _n_heads_tags(scheme, len(label_id))
    tags = np.zeros((n, h), np.int64)
    for e in entities:
        j = label_id.get(e.label)
        if j is None:
            continue
        if scheme == "per-type":
            tags[e.start, j] = 1
            tags[e.start + 1 : e.end, j] = 2
        else:
            tags[e.start, 0] = 1 + 2 * j
            tags[e.start + 1 : e.end, 0] = 2 + 2 * j
    return tags


def _decode_tags(tags: np.ndarray, scheme: str, labels: list[str]) -> list[tuple[int, int, int]]:
    """Spans ``(start, end_exclusive, label_index)`` from tags (n, H)."""
    out: list[tuple[int, int, int]] = []
    h = tags.shape[1]
    for head in range(h):
        col = tags[:, head]
        nz = np.flatnonzero(col)
        i = 0
        while i < len(nz):
            s = int(nz[i])
            t = int(col[s])
            if scheme == "per-type":
                lab, inside = head, 2
            else:
                lab, inside = (t - 1) // 2, 2 + 2 * ((t - 1) // 2)
            e = s + 1
            i += 1
            while i < len(nz) and nz[i] == e and col[e] == inside:
                e += 1
                i += 1
            out.append((s, e, lab))
    return out


# --- CRF (torch) -----------------------------------------------------------------------------
def crf_log_partition(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """Log of the CRF partition function by the forward algorithm.

    Parameters
    ----------
    emissions
        Scores (B, T, H, K): batch, time, independent CRF heads, tags.
    mask
        Bool (B, T), True for real positions; left-aligned, every row has ``mask[:, 0]`` True.
    transitions, start, end
        Scores (H, K, K) from tag i to tag j, (H, K) for the first and (H, K) for the last tag.

    Returns
    -------
    torch.Tensor
        (B, H) log-sum over all tag paths of ``exp(score)``.
    """
    import torch

    alpha = start + emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        nxt = torch.logsumexp(alpha.unsqueeze(-1) + transitions, dim=-2) + emissions[:, t]
        alpha = torch.where(mask[:, t, None, None], nxt, alpha)
    return torch.logsumexp(alpha + end, dim=-1)


def crf_score(
    emissions: torch.Tensor,
    tags: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """Score (B, H) of the tag paths ``tags`` (B, T, H); other arguments as in
    :func:`crf_log_partition`."""
    import torch

    b, t_len, h, _ = emissions.shape
    heads = torch.arange(h)
    em = emissions.gather(-1, tags.unsqueeze(-1)).squeeze(-1)  # (B, T, H)
    m = mask.to(em.dtype)
    score = start[heads, tags[:, 0]] + (em * m.unsqueeze(-1)).sum(1)
    if t_len > 1:
        tr = transitions[heads, tags[:, :-1], tags[:, 1:]]  # (B, T-1, H)
        score = score + (tr * m[:, 1:].unsqueeze(-1)).sum(1)
    last = mask.long().sum(1) - 1
    last_tags = tags[torch.arange(b), last]  # (B, H)
    return score + end[heads, last_tags]


def crf_viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """Highest-scoring tag paths (B, T, H) (padding positions repeat the last real tag)."""
    import torch

    alpha = start + emissions[:, 0]
    pointers = []
    k = emissions.shape[-1]
    identity = torch.arange(k).expand_as(alpha)
    for t in range(1, emissions.shape[1]):
        scores, best = (alpha.unsqueeze(-1) + transitions).max(dim=-2)
        m = mask[:, t, None, None]
        alpha = torch.where(m, scores + emissions[:, t], alpha)
        pointers.append(torch.where(m, best, identity))
    tag = (alpha + end).argmax(-1)  # (B, H)
    path = [tag]
    for bp in reversed(pointers):
        tag = bp.gather(-1, tag.unsqueeze(-1)).squeeze(-1)
        path.append(tag)
    path.reverse()
    return torch.stack(path, dim=1)


def crf_forward_backward(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward and backward log-scores.

    Returns
    -------
    alpha, beta, log_z
        ``alpha`` (B, T, H, K): log-sum of the scores of paths from the start to tag k at t,
        emission at t included; ``beta`` (B, T, H, K): log-sum of the scores from tag k at t to
        the end, emission at t excluded, ``end`` included; ``log_z`` (B, H). So the marginal
        ``P(y_t = k) = exp(alpha + beta - log_z)`` at real positions.
    """
    import torch

    t_len = emissions.shape[1]
    alphas = [start + emissions[:, 0]]
    for t in range(1, t_len):
        nxt = torch.logsumexp(alphas[-1].unsqueeze(-1) + transitions, dim=-2) + emissions[:, t]
        alphas.append(torch.where(mask[:, t, None, None], nxt, alphas[-1]))
    end_b = end.expand_as(alphas[0])
    betas = [end_b]
    for t in range(t_len - 2, -1, -1):
        nb = torch.logsumexp(transitions + (emissions[:, t + 1] + betas[-1]).unsqueeze(-2), -1)
        betas.append(torch.where(mask[:, t + 1, None, None], nb, end_b))
    betas.reverse()
    log_z = torch.logsumexp(alphas[-1] + end, dim=-1)
    return torch.stack(alphas, 1), torch.stack(betas, 1), log_z


# --- the network -----------------------------------------------------------------------------
def _build_net(cfg: dict[str, Any], n_chars: int, n_bigrams: int) -> nn.Module:
    require("torch", "text")
    import torch
    from torch import nn as nn_

    h, k = _n_heads_tags(cfg["scheme"], len(cfg["labels"]))
    in_dim = cfg["emb_dim"] + cfg["bigram_dim"]
    mods: dict[str, Any] = {
        "char": nn_.Embedding(n_chars, cfg["emb_dim"], padding_idx=PAD),
        "drop": nn_.Dropout(cfg["dropout"]),
        # two unidirectional LSTMs per layer, the backward one fed reversed rows: exact under
        # padding and several times faster on CPU than a packed bidirectional nn.LSTM
        "lstm_f": nn_.ModuleList(
            nn_.LSTM(in_dim if i == 0 else 2 * cfg["hidden"], cfg["hidden"], batch_first=True)
            for i in range(cfg["layers"])
        ),
        "lstm_b": nn_.ModuleList(
            nn_.LSTM(in_dim if i == 0 else 2 * cfg["hidden"], cfg["hidden"], batch_first=True)
            for i in range(cfg["layers"])
        ),
        "out": nn_.Linear(2 * cfg["hidden"], h * k),
        "crf": nn_.ParameterDict(
            {
                "transitions": nn_.Parameter(torch.zeros(h, k, k)),
                "start": nn_.Parameter(torch.zeros(h, k)),
                "end": nn_.Parameter(torch.zeros(h, k)),
            }
        ),
    }
    if cfg["bigram_dim"] > 0:
        mods["bigram"] = nn_.Embedding(n_bigrams, cfg["bigram_dim"], padding_idx=PAD)
    net: nn.Module = nn_.ModuleDict(mods)
    return net


class _Batch(NamedTuple):
    chars: torch.Tensor  # (B, T)
    bigrams: torch.Tensor  # (B, T)
    mask: torch.Tensor  # (B, T) bool
    lengths: torch.Tensor  # (B,)
    tags: torch.Tensor | None  # (B, T, H)


def _make_batch(
    items: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]], n_heads: int
) -> _Batch:
    import torch

    lengths = np.array([len(c) for c, _, _ in items])
    b, t = len(items), int(lengths.max())
    chars = np.zeros((b, t), np.int64)
    bigrams = np.zeros((b, t), np.int64)
    tags = np.zeros((b, t, n_heads), np.int64)
    has_tags = items[0][2] is not None
    for i, (c, bg, tg) in enumerate(items):
        chars[i, : len(c)] = c
        bigrams[i, : len(c)] = bg
        if tg is not None:
            tags[i, : len(c)] = tg
    lt = torch.from_numpy(lengths)
    return _Batch(
        torch.from_numpy(chars),
        torch.from_numpy(bigrams),
        torch.arange(t)[None, :] < lt[:, None],
        lt,
        torch.from_numpy(tags) if has_tags else None,
    )


class _Tagger:
    """The network, its vocabulary and CRF constraints, with batched emissions and decoding."""

    def __init__(self, cfg: dict[str, Any], vocab: _Vocab, net: nn.Module) -> None:
        import torch

        self.cfg = cfg
        self.vocab = vocab
        self.net = net
        self.labels: list[str] = list(cfg["labels"])
        self.scheme: str = cfg["scheme"]
        self.n_heads, self.n_tags = _n_heads_tags(self.scheme, len(self.labels))
        tm, sm = _constraints(self.scheme, len(self.labels))
        self.trans_mask = torch.from_numpy(tm)
        self.start_mask = torch.from_numpy(sm)

    def crf_params(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        crf: Any = self.net["crf"]  # type: ignore[index]
        return (crf["transitions"] + self.trans_mask, crf["start"] + self.start_mask, crf["end"])

    def emissions(self, batch: _Batch) -> torch.Tensor:
        import torch

        net: Any = self.net
        b, t = batch.chars.shape
        x = net["char"](batch.chars)
        if "bigram" in net:
            x = torch.cat([x, net["bigram"](batch.bigrams)], -1)
        x = net["drop"](x)
        pos = torch.arange(t)[None, :]
        lens = batch.lengths[:, None]
        rev = torch.where(pos < lens, lens - 1 - pos, pos)  # reverse each row within its length
        out = x
        for layer, (fwd, bwd) in enumerate(zip(net["lstm_f"], net["lstm_b"], strict=True)):
            if layer:
                out = net["drop"](out)
            of, _ = fwd(out)
            ob, _ = bwd(out.gather(1, rev[:, :, None].expand_as(out)))
            ob = ob.gather(1, rev[:, :, None].expand_as(ob))
            out = torch.cat([of, ob], -1)
        out = net["drop"](out)
        em: torch.Tensor = net["out"](out).view(b, t, self.n_heads, self.n_tags)
        return em

    def loss(self, batch: _Batch) -> torch.Tensor:
        if batch.tags is None:
            raise ValueError("a training batch needs tags")
        em = self.emissions(batch)
        trans, start, end = self.crf_params()
        nll = crf_log_partition(em, batch.mask, trans, start, end) - crf_score(
            em, batch.tags, batch.mask, trans, start, end
        )
        return nll.sum(-1).mean()

    def encode_windows(
        self, texts: Sequence[str], max_len: int
    ) -> list[tuple[int, int, int, np.ndarray, np.ndarray]]:
        """(text index, window start, window end, char ids, bigram ids) for every window."""
        out = []
        for i, text in enumerate(texts):
            for s, e in split_windows(text, max_len):
                c, b = self.vocab.encode(text[s:e])
                out.append((i, s, e, c, b))
        return out

    def predict(
        self, texts: Sequence[str], *, batch_size: int = 128, with_scores: bool = False
    ) -> list[list[tuple[Entity, float]]]:
        import torch

        windows = self.encode_windows(texts, int(self.cfg["max_len"]))
        order = sorted(range(len(windows)), key=lambda j: len(windows[j][3]))
        out: list[list[tuple[Entity, float]]] = [[] for _ in texts]
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                trans, start, end = self.crf_params()
                for k in range(0, len(order), batch_size):
                    chunk = [windows[j] for j in order[k : k + batch_size]]
                    batch = _make_batch([(w[3], w[4], None) for w in chunk], self.n_heads)
                    em = self.emissions(batch)
                    paths = crf_viterbi(em, batch.mask, trans, start, end).numpy()
                    fb = None
                    if with_scores:
                        alpha, beta, log_z = crf_forward_backward(
                            em.double(),
                            batch.mask,
                            trans.double(),
                            start.double(),
                            end.double(),
                        )
                        fb = (
                            alpha.numpy(),
                            beta.numpy(),
                            log_z.numpy(),
                            em.double().numpy(),
                            trans.double().numpy(),
                        )
                    for r, (ti, ws, _we, c, _b) in enumerate(chunk):
                        n = len(c)
                        text = texts[ti]
                        for s, e, lab in _decode_tags(paths[r, :n], self.scheme, self.labels):
                            score = float("nan")
                            if fb is not None:
                                score = self._span_prob(fb, r, n, s, e, lab)
                            ent = Entity(ws + s, ws + e, self.labels[lab], text[ws + s : ws + e])
                            out[ti].append((ent, score))
        finally:
            self.net.train(was_training)
        for lst in out:
            lst.sort(key=lambda p: (p[0].start, -p[0].end, p[0].label))
        return out

    def _span_prob(
        self, fb: tuple[np.ndarray, ...], r: int, n: int, s: int, e: int, lab: int
    ) -> float:
        """Marginal probability that tags B, I, ..., I cover [s, e) and position e is not I."""
        alpha, beta, log_z, em, trans = fb
        if self.scheme == "per-type":
            h, b_tag, i_tag = lab, 1, 2
        else:
            h, b_tag, i_tag = 0, 1 + 2 * lab, 2 + 2 * lab
        logp = alpha[r, s, h, b_tag]
        prev = b_tag
        for t in range(s + 1, e):
            logp += trans[h, prev, i_tag] + em[r, t, h, i_tag]
            prev = i_tag
        p = np.exp(logp + beta[r, e - 1, h, prev] - log_z[r, h])
        if e < n:
            ext = logp + trans[h, prev, i_tag] + em[r, e, h, i_tag] + beta[r, e, h, i_tag]
            p -= np.exp(ext - log_z[r, h])
        return float(np.clip(p, 0.0, 1.0))


# --- metrics ---------------------------------------------------------------------------------
def _key(e: Any) -> tuple[int, int, str]:
    return int(e[0]), int(e[1]), str(e[2])


def _counts(
    gold: Sequence[Sequence[Any]], pred: Sequence[Sequence[Any]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, list[int]]]:
    if len(gold) != len(pred):
        raise InvalidInputError(
            f"{len(gold)} gold sentences but {len(pred)} predicted; they must pair up"
        )
    tp = np.zeros(len(gold), np.int64)
    ng = np.zeros(len(gold), np.int64)
    npred = np.zeros(len(gold), np.int64)
    per: dict[str, list[int]] = {}
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        gs, ps = {_key(e) for e in g}, {_key(e) for e in p}
        hit = gs & ps
        tp[i], ng[i], npred[i] = len(hit), len(gs), len(ps)
        for src, col in ((hit, 0), (ps, 1), (gs, 2)):
            for e in src:
                per.setdefault(e[2], [0, 0, 0])[col] += 1
    return tp, npred, ng, per


def _prf(tp: float, n_pred: float, n_gold: float) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def ner_metrics(
    gold: Sequence[Sequence[Entity]], pred: Sequence[Sequence[Entity]]
) -> dict[str, Any]:
    """Strict entity-level micro precision, recall and F1 (exact start, end and label).

    Parameters
    ----------
    gold, pred
        One list of entities per sentence (anything indexable as ``(start, end, label)``);
        duplicates within a sentence count once.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``tp``, ``n_pred``, ``n_gold``, ``n_sentences`` and
        ``per_label``: the same (without ``n_sentences``) for each label in gold or pred.
        A ratio with a zero denominator is 0.
    """
    tp, npred, ng, per = _counts(gold, pred)
    p, r, f = _prf(tp.sum(), npred.sum(), ng.sum())
    out: dict[str, Any] = {
        "precision": p,
        "recall": r,
        "f1": f,
        "tp": int(tp.sum()),
        "n_pred": int(npred.sum()),
        "n_gold": int(ng.sum()),
        "n_sentences": len(gold),
        "per_label": {},
    }
    for label in sorted(per):
        t, pr, g = per[label]
        lp, lr, lf = _prf(t, pr, g)
        out["per_label"][label] = {
            "precision": lp,
            "recall": lr,
            "f1": lf,
            "tp": t,
            "n_pred": pr,
            "n_gold": g,
        }
    return out


def _bootstrap_prf(
    gold: Sequence[Sequence[Any]], pred: Sequence[Sequence[Any]], n_boot: int, seed: int
) -> dict[str, list[float | None]]:
    """Percentile 95% CIs of P/R/F1 by resampling sentences."""
    if n_boot < 1 or len(gold) < 2:
        return {k: [None, None] for k in ("precision", "recall", "f1")}
    tp, npred, ng, _ = _counts(gold, pred)
    rng = np.random.default_rng(seed)
    n = len(gold)
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    t, pr, g = w @ tp, w @ npred, w @ ng
    p = np.divide(t, pr, out=np.zeros_like(t), where=pr > 0)
    r = np.divide(t, g, out=np.zeros_like(t), where=g > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(t), where=(p + r) > 0)
    return {
        k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
        for k, v in (("precision", p), ("recall", r), ("f1", f))
    }


def _card_metrics(m: dict[str, Any], ci: dict[str, list[float | None]]) -> dict[str, Any]:
    return {
        k: {"estimate": m[k], "ci95": ci[k], "n": m["n_gold"]}
        for k in ("precision", "recall", "f1")
    }


# --- the bundle ------------------------------------------------------------------------------
class NerBundle(Bundle):
    """A trained character-level BiLSTM-CRF entity tagger. Make one with :func:`train_ner`."""

    pillar = "text-ner"

    def __init__(
        self, card: dict[str, Any], tagger: _Tagger, report_html: str | None = None
    ) -> None:
        super().__init__(card, report_html)
        self._tagger = tagger

    @property
    def labels(self) -> list[str]:
        """Entity types the model can output."""
        return list(self._tagger.labels)

    @staticmethod
    def _texts(texts: Sequence[str] | str) -> list[str]:
        items = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise InvalidInputError(f"text {i} is a {type(t).__name__}; expected a string")
        return items

    def predict(self, texts: Sequence[str] | str, *, batch_size: int = 128) -> list[list[Entity]]:
        """Entities of each text (a single string counts as a list of one).

        Long texts are cut into windows (:func:`split_windows`) and offsets mapped back, so
        offsets are Python string indices into each given text, end exclusive.
        """
        res = self._tagger.predict(self._texts(texts), batch_size=batch_size)
        return [[e for e, _ in row] for row in res]

    def explain(
        self, texts: Sequence[str] | str, *, batch_size: int = 128
    ) -> list[list[dict[str, Any]]]:
        """Entities of each text with a confidence ``score`` in [0, 1].

        The score is the CRF marginal probability of the entity (forward-backward): the
        probability, over all taggings of its window, that the span is tagged ``B, I, ..., I``
        with the given type and the next character does not continue it.

        Returns
        -------
        list of list of dict
            Per text, ``{"start", "end", "label", "text", "score"}`` per entity.
        """
        res = self._tagger.predict(self._texts(texts), batch_size=batch_size, with_scores=True)
        return [[{**e._asdict(), "score": round(s, 6)} for e, s in row] for row in res]

    def _to_files(self) -> dict[str, bytes]:
        from safetensors.torch import save

        state = {k: v.detach().contiguous() for k, v in self._tagger.net.state_dict().items()}
        return {
            WEIGHTS: bytes(save(state)),
            VOCAB: json.dumps(self._tagger.vocab.to_json(), ensure_ascii=False).encode(),
        }

    @classmethod
    def _from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> NerBundle:
        require("torch", "text")
        from safetensors.torch import load

        try:
            cfg = card["model"]["config"]
            vj = json.loads(files[VOCAB])
            vocab = _Vocab(list(vj["chars"]), list(vj["bigrams"]))
            net = _build_net(cfg, len(vocab.chars), len(vocab.bigrams))
            net.load_state_dict(load(files[WEIGHTS]))
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise BundleError(
                f"the NER bundle's card, vocabulary or weights are invalid ({exc})"
            ) from None
        net.eval()
        return cls(card, _Tagger(cfg, vocab, net))


def evaluate_ner(
    bundle: NerBundle,
    examples: Sequence[NerExample] | str | Path,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Strict micro P/R/F1 of ``bundle`` on labelled examples (or a file), per label too.

    Returns :func:`ner_metrics` plus ``ci95`` (bootstrap over sentences: precision, recall,
    f1) and ``predict_seconds``.
    """
    exs = _as_examples(examples, "evaluation data")
    t0 = time.perf_counter()
    pred = bundle.predict([ex.text for ex in exs])
    secs = time.perf_counter() - t0
    gold = [ex.entities for ex in exs]
    out = ner_metrics(gold, pred)
    out["ci95"] = _bootstrap_prf(gold, pred, n_boot, seed)
    out["predict_seconds"] = round(secs, 3)
    return out


# --- training --------------------------------------------------------------------------------
def _windows_with_tags(
    tagger: _Tagger, examples: Sequence[NerExample], max_len: int, scheme: str
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, int]]:
    label_id = {lab: i for i, lab in enumerate(tagger.labels)}
    items = []
    dropped_nested = dropped_cut = 0
    for ex in examples:
        flat = _select_spans(list(ex.entities), scheme)
        dropped_nested += len(ex.entities) - len(flat)
        kept = 0
        for s, e in split_windows(ex.text, max_len):
            inside = [
                Entity(x.start - s, x.end - s, x.label, x.text)
                for x in flat
                if s <= x.start and x.end <= e
            ]
            kept += len(inside)
            c, b = tagger.vocab.encode(ex.text[s:e])
            items.append((c, b, _encode_tags(e - s, inside, scheme, label_id)))
        dropped_cut += len(flat) - kept
    return items, {"nested_or_overlapping": dropped_nested, "cut_by_windows": dropped_cut}


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (sorted within chunks of 50 batches)."""
    perm = rng.permutation(len(lengths))
    out: list[np.ndarray] = []
    chunk = batch_size * 50
    for i in range(0, len(perm), chunk):
        part = perm[i : i + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        out.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
    return [out[i] for i in rng.permutation(len(out))]


def train_ner(
    train: Sequence[NerExample] | str | Path,
    val: Sequence[NerExample] | str | Path | None = None,
    *,
    scheme: str = "per-type",
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 2e-3,
    hidden: int = 200,
    emb_dim: int = 128,
    bigram_dim: int = 64,
    layers: int = 1,
    dropout: float = 0.3,
    min_freq: int = 2,
    bigram_min_freq: int = 2,
    max_len: int = 256,
    patience: int = 5,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: Progress | None = None,
    max_minutes: float | None = None,
    num_threads: int | None = None,
    n_boot: int = 1000,
    source: str | None = None,
) -> NerBundle:
    """Train a character-level BiLSTM-CRF entity tagger with early stopping on strict F1.

    Parameters
    ----------
    train
        Labelled sentences, or a file read with :func:`load_ner_data` (format ``auto``).
    val
        Validation sentences (or a file) for early stopping and the card's ``val`` metrics;
        ``None`` holds out ``val_fraction`` of ``train`` (random, by ``seed``).
    scheme
        How nested gold entities are turned into training tags: ``per-type`` (one CRF head
        per type; nesting across types kept), ``flat-outer`` or ``flat-inner`` (one CRF; see
        the module docstring).
    epochs, batch_size, lr, patience
        At most ``epochs`` passes (Adam, gradient norm clipped at 5); stops after ``patience``
        epochs without a better validation strict F1 and keeps the best epoch.
    hidden, emb_dim, bigram_dim, layers, dropout
        LSTM units per direction, character and bigram embedding sizes (``bigram_dim=0``: no
        bigrams), LSTM layers, dropout on embeddings and LSTM outputs.
    min_freq, bigram_min_freq
        Characters/bigrams seen fewer times in training map to the unknown id.
    max_len
        Window length in characters for training and prediction (:func:`split_windows`).
    seed, num_threads
        Seed for initialisation, shuffling, dropout and the held-out split; torch threads
        (default: leave torch's setting). Same seed and threads on CPU, same bundle.
    progress
        Callback ``(step, done, total)`` called during training.
    max_minutes
        Wall-time budget, checked after every batch; on expiry the partial epoch is
        validated and the best epoch so far kept.
    n_boot
        Bootstrap resamples for the validation CIs in the card.
    source
        A description of the training data for the card (default: the file name, if given).

    Returns
    -------
    NerBundle
        With ``card["metrics"]["val"]`` (strict micro P/R/F1 with bootstrap CIs), per-label
        metrics, per-epoch history, and an HTML report.
    """
    require("torch", "text")
    import torch

    if scheme not in SCHEMES:
        raise InvalidInputError(f"scheme {scheme!r} is unknown; use one of {SCHEMES}")
    if epochs < 1 or batch_size < 1 or lr <= 0 or patience < 1 or hidden < 1 or emb_dim < 1:
        raise InvalidInputError(
            "epochs, batch_size, patience, hidden and emb_dim must be >= 1 and lr > 0"
        )
    if not 0 <= dropout < 1 or not 0 < val_fraction < 1 or bigram_dim < 0 or layers < 1:
        raise InvalidInputError(
            "dropout must be in [0, 1), val_fraction in (0, 1), bigram_dim >= 0, layers >= 1"
        )
    if source is None and isinstance(train, str | Path):
        source = Path(train).name
    train_ex = _as_examples(train, "training data")
    rng = np.random.default_rng(seed)
    if val is None:
        if len(train_ex) < 10:
            raise InvalidInputError(
                f"{len(train_ex)} training sentences are too few to hold out validation; "
                "give at least 10, or pass val"
            )
        perm = rng.permutation(len(train_ex))
        n_val = max(1, round(val_fraction * len(train_ex)))
        val_ex = [train_ex[i] for i in sorted(perm[:n_val])]
        train_ex = [train_ex[i] for i in sorted(perm[n_val:])]
        split = f"random {val_fraction:.0%} of the training data held out (seed {seed})"
    else:
        val_ex = _as_examples(val, "validation data")
        split = "validation data given separately"
    labels = sorted({e.label for ex in train_ex for e in ex.entities})
    if not labels:
        raise InvalidInputError("the training data has no entities; nothing to learn")

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    vocab = _Vocab.build([ex.text for ex in train_ex], min_freq, bigram_min_freq)
    cfg: dict[str, Any] = {
        "architecture": "char+bigram embeddings -> BiLSTM -> linear -> CRF",
        "scheme": scheme,
        "labels": labels,
        "hidden": hidden,
        "emb_dim": emb_dim,
        "bigram_dim": bigram_dim,
        "layers": layers,
        "dropout": dropout,
        "max_len": max_len,
        "min_freq": min_freq,
        "bigram_min_freq": bigram_min_freq,
        "normalisation": "NFKC per character, lower case, ASCII digits -> 0, spaces -> ' '",
    }
    net = _build_net(cfg, len(vocab.chars), len(vocab.bigrams))
    tagger = _Tagger(cfg, vocab, net)
    items, dropped = _windows_with_tags(tagger, train_ex, max_len, scheme)
    lengths = np.array([len(c) for c, _, _ in items])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    val_texts = [ex.text for ex in val_ex]
    val_gold = [ex.entities for ex in val_ex]

    n_batches = len(_batches(lengths, batch_size, np.random.default_rng(0)))
    total_steps = epochs * n_batches
    history: list[dict[str, float]] = []
    best_f1, best_state, best_epoch, wait = -1.0, copy.deepcopy(net.state_dict()), 0, 0
    start_t = time.perf_counter()
    step = 0
    out_of_time = False
    for epoch in range(1, epochs + 1):
        net.train()
        total, seen = 0.0, 0
        for bi, idx in enumerate(_batches(lengths, batch_size, rng)):
            batch = _make_batch([items[i] for i in idx], tagger.n_heads)
            opt.zero_grad()
            loss = tagger.loss(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            total += float(loss.item()) * len(idx)
            seen += len(idx)
            step += 1
            if progress and bi % 20 == 0:
                progress(f"epoch {epoch}/{epochs} loss {total / seen:.3f}", step, total_steps)
            elapsed = (time.perf_counter() - start_t) / 60
            if max_minutes is not None and elapsed >= max_minutes:
                out_of_time = True
                break
        pred = [[e for e, _ in row] for row in tagger.predict(val_texts)]
        m = ner_metrics(val_gold, pred)
        history.append(
            {
                "epoch": epoch,
                "loss": total / max(seen, 1),
                "val_precision": m["precision"],
                "val_recall": m["recall"],
                "val_f1": m["f1"],
                "minutes": round((time.perf_counter() - start_t) / 60, 2),
                "complete": not out_of_time,
            }
        )
        if progress:
            progress(
                f"epoch {epoch}/{epochs} loss {total / max(seen, 1):.3f} val F1 {m['f1']:.3f}",
                step,
                total_steps,
            )
        if m["f1"] > best_f1:
            best_f1, best_state, best_epoch, wait = (
                m["f1"],
                copy.deepcopy(net.state_dict()),
                epoch,
                0,
            )
        else:
            wait += 1
        if wait >= patience or out_of_time:
            break
    net.load_state_dict(best_state)
    net.eval()
    train_seconds = time.perf_counter() - start_t
    if progress:
        progress("validating", total_steps, total_steps)

    bundle = NerBundle(base_card("text-ner", "ner", seed=seed), tagger)
    pred = bundle.predict(val_texts)
    m = ner_metrics(val_gold, pred)
    ci = _bootstrap_prf(val_gold, pred, n_boot, seed)
    card = bundle.card
    card["lang"] = "zh"
    card["input"] = {
        "kind": "text (Chinese clinical sentences; any language is read character by character)",
        "offsets": "Python string indices into the given text, end exclusive",
    }
    card["output"] = {
        "labels": labels,
        "scheme": scheme,
        "score": "CRF marginal probability of the entity (explain)",
    }
    card["model"] = {
        "config": cfg,
        "parameters": {
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "optimizer": "Adam",
            "grad_clip": 5.0,
            "patience": patience,
            "max_minutes": max_minutes,
        },
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "vocab": {"chars": len(vocab.chars), "bigrams": len(vocab.bigrams)},
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "stopped": "time budget"
        if out_of_time
        else ("early stopping" if wait >= patience else "epochs"),
        "train_seconds": round(train_seconds, 1),
        "torch_threads": int(torch.get_num_threads()),
        "history": history,
    }
    n_ents = sum(len(ex.entities) for ex in train_ex)
    card["training_data"] = {
        "source": source or "in-memory examples",
        "n_sentences": len(train_ex),
        "n_windows": len(items),
        "n_characters": int(lengths.sum()),
        "n_entities": n_ents,
        "label_counts": dict(
            sorted(Counter(e.label for ex in train_ex for e in ex.entities).items())
        ),
        "entities_not_trained_on": dropped,
    }
    card["split"] = {"method": split, "n_train": len(train_ex), "n_val": len(val_ex), "seed": seed}
    card["metrics"] = {"val": _card_metrics(m, ci)}
    card["per_label"] = {"val": m["per_label"]}
    card["evaluation"] = (
        "strict entity-level micro P/R/F1: an entity counts when start, end and label match a "
        "gold entity exactly; nested gold entities are all counted. The val set also chose the "
        "best epoch, so its figures are slightly optimistic."
    )
    card["packages"] = package_versions("torch", "numpy", "safetensors")
    card["intended_use"] = (
        "Research and decision support: finding clinical entities "
        f"({', '.join(labels)}) in Chinese medical text like the training text. Not a medical "
        "device; outputs must be reviewed."
    )
    card["limitations"] = _limitations(scheme, dropped, n_ents)
    bundle.report_html = _report(card, m, history).to_html()
    return bundle


def _limitations(scheme: str, dropped: dict[str, int], n_ents: int) -> list[str]:
    out = [
        "Trained from scratch on the given sentences (no pretrained language model); expect "
        "lower accuracy on text unlike the training text (other hospitals, note types, eras).",
        "Characters unseen in training share one 'unknown' embedding.",
    ]
    if scheme == "per-type":
        out.append("Entities of the same type cannot nest; the outer one was trained on.")
    else:
        out.append(
            "A flat tagger outputs no nested entities; nested gold ones were left out "
            f"of training ({scheme})."
        )
    if dropped["nested_or_overlapping"]:
        out.append(
            f"{dropped['nested_or_overlapping']} of {n_ents} training entities were not "
            "trained on because they overlap another one the scheme keeps."
        )
    return out


def _curves(history: Sequence[dict[str, float]]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 3.4))
    ax = fig.subplots()
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["loss"] for h in history], "o-", label="training loss")
    ax.set(xlabel="epoch", ylabel="loss (CRF NLL per window)", title="Training")
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_f1"] for h in history], "s-", c="#dd6b20", label="val strict F1")
    ax2.set_ylabel("validation strict F1")
    fig.legend(loc="lower center", fontsize=8, ncol=2)
    return fig


def _report(card: dict[str, Any], m: dict[str, Any], history: list[dict[str, float]]) -> rp.Report:
    td, model = card["training_data"], card["model"]
    report = rp.Report(
        "Validation report — Chinese clinical NER (BiLSTM-CRF)",
        subtitle=f"created {card['created']}, medai {card['packages'].get('medai')}",
    )
    report.add(
        "Data source and size",
        f"<p>{td['n_sentences']} training sentences ({td['n_windows']} windows, "
        f"{td['n_characters']} characters, {td['n_entities']} entities) from "
        f"{html.escape(str(td['source']))}.</p>"
        + rp.table_html([{"label": k, "entities": v} for k, v in td["label_counts"].items()]),
    )
    report.add(
        "Outcome",
        "<p>Entity spans with types "
        + ", ".join(card["output"]["labels"])
        + f"; nested gold handled by the <b>{card['output']['scheme']}</b> scheme.</p>",
    )
    report.add(
        "Split and validation",
        f"<p>{card['split']['method']}: {card['split']['n_train']} "
        f"training and {card['split']['n_val']} validation sentences. "
        f"{card['evaluation']}</p>",
    )
    report.add(
        "Model",
        f"<p>{model['config']['architecture']}; {model['n_parameters']} "
        f"parameters; best epoch {model['best_epoch']} of {model['epochs_run']} "
        f"(stopped by {model['stopped']}), {model['train_seconds']} s.</p>",
    )
    report.add(
        "Hyperparameters",
        rp.table_html(
            [
                {
                    **model["parameters"],
                    **{
                        k: v
                        for k, v in model["config"].items()
                        if k not in ("labels", "architecture")
                    },
                }
            ]
        ),
    )
    rows = [
        {
            "label": "micro (all)",
            "precision": m["precision"],
            "recall": m["recall"],
            "f1": m["f1"],
            "gold": m["n_gold"],
            "predicted": m["n_pred"],
            "correct": m["tp"],
        }
    ]
    rows += [
        {
            "label": k,
            "precision": v["precision"],
            "recall": v["recall"],
            "f1": v["f1"],
            "gold": v["n_gold"],
            "predicted": v["n_pred"],
            "correct": v["tp"],
        }
        for k, v in m["per_label"].items()
    ]
    report.add(
        "Discrimination",
        "<p>Strict entity-level precision/recall/F1 on the validation "
        "sentences (bootstrap 95% CIs over sentences):</p>"
        + rp.metrics_table(card["metrics"]["val"])
        + rp.table_html(rows)
        + rp.figure_html(_curves(history), "training curves"),
    )
    report.add("Intended use and limitations", rp.limitations_html(card))
    return report
