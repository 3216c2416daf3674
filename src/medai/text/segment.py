"""Language detection, sentence and token segmentation for English and Chinese clinical notes.

Every function returns spans as Python string offsets into the text it was given (end
exclusive), so results can be highlighted in the original note.

English sentences end at ``.``, ``!`` or ``?`` followed by space and a capital or digit, unless
the word before the period is a known abbreviation (``Dr.``, ``b.i.d.``, ``e.g.``); a line in
capitals ending with a colon (a header), a blank line, or a list item starts a new sentence.
Decimal numbers (``2.5 mg``) never split. Chinese sentences end at ``。！？；`` and line breaks;
Chinese tokens come from jieba with a medical user dictionary built from the bundled lexicons.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["LANGS", "Span", "detect_lang", "is_cjk", "sentences", "tokens"]

LANGS = ("en", "zh")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RATIO = 0.15
_SPACE = re.compile(r"\s")


class Span(NamedTuple):
    """A piece of a text: ``text[start:end]``."""

    start: int
    end: int
    text: str


def is_cjk(ch: str) -> bool:
    """Whether a character is a CJK ideograph."""
    return bool(_CJK.match(ch))


def detect_lang(text: str) -> str:
    """``"zh"`` when CJK ideographs make up at least 15% of the non-space characters, else ``"en"``.

    Chinese notes full of English abbreviations (``qd``, ``ivgtt``, ``CT``) stay Chinese.
    """
    sample = text[:20000]
    letters = len(sample) - len(_SPACE.findall(sample))
    if letters == 0:
        return "en"
    cjk = len(_CJK.findall(sample))
    return "zh" if cjk / letters >= _CJK_RATIO else "en"


def check_lang(lang: str | None) -> str | None:
    """Validate a ``--lang`` value: ``None``/``"auto"`` (detect per note), ``"en"`` or ``"zh"``."""
    if lang is None or lang == "auto":
        return None
    low = lang.lower().replace("_", "-")
    if low in {"zh-cn", "zh-hans", "cn", "chinese"}:
        low = "zh"
    if low in {"en-us", "en-gb", "english"}:
        low = "en"
    if low not in LANGS:
        raise InvalidInputError(
            f"unknown language {lang!r}; expected 'auto', 'en' (English) or 'zh' (Chinese)"
        )
    return low


# -- English sentences -----------------------------------------------------------------------
#: Words that end with a period without ending the sentence (lowercase, without the final dot).
ABBREVIATIONS = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "appt",
        "apt",
        "dept",
        "est",
        "fig",
        "no",
        "nos",
        "pt",
        "pts",
        "b.i.d",
        "t.i.d",
        "q.i.d",
        "q.d",
        "q.o.d",
        "q.h.s",
        "p.o",
        "p.r.n",
        "a.m",
        "p.m",
        "h.s",
        "i.v",
        "i.m",
        "s.c",
        "s.q",
        "o.d",
        "o.s",
        "o.u",
        "mg",
        "mcg",
        "ml",
        "hr",
        "hrs",
        "min",
        "wk",
        "wks",
        "yr",
        "yrs",
        "mo",
        "mos",
        "inc",
        "co",
        "corp",
        "ltd",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "cf",
        "al",
        "ca",
        "resp",
        "temp",
        "hx",
        "dx",
        "tx",
        "rx",
        "sx",
        "fx",
        "h/o",
        "s/p",
        "w/",
        "u.s",
    ]
)

_EN_BREAK = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9])|[.!?]+[\"')\]]*\s*$")
_HEADER_LINE = re.compile(r"^\s*[A-Z][A-Z0-9 /&,()'-]{2,60}:")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z./]*)\.$")


def _lines(text: str) -> list[tuple[int, int]]:
    out = []
    start = 0
    for m in re.finditer(r"\n", text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return out


def _line_starts_block(line: str, prev: str) -> bool:
    """Whether a line starts a new sentence regardless of punctuation."""
    if not prev.strip() or not line.strip():
        return True
    if _HEADER_LINE.match(line) or _LIST_ITEM.match(line):
        return True
    if _HEADER_LINE.match(prev) and prev.rstrip().endswith(":"):
        return True
    stripped = line.lstrip()
    # a wrapped line continues in lowercase; a capitalised line after a line without final
    # punctuation is usually a new item in a note written line by line
    return bool(stripped[:1].isupper() and not prev.rstrip().endswith((",", "-", "/", "(")))


def _split_en(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    chunk = text[start:end]
    s = 0
    for m in _EN_BREAK.finditer(chunk):
        before = chunk[s : m.start() + 1]
        w = _LAST_WORD.search(before)
        if re.fullmatch(r"\s*\d{1,3}\.", before):  # a list number "1."
            continue
        if (
            m.group().startswith(".")
            and w
            and (w.group(1).lower() in ABBREVIATIONS or len(w.group(1)) == 1)
        ):
            continue
        yield start + s, start + m.end()
        s = m.end()
    if s < len(chunk):
        yield start + s, end


def _split_zh(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    chunk = text[start:end]
    s = 0
    for m in re.finditer(r"[。！？；!?;]+[”’」』）)]*", chunk):
        yield start + s, start + m.end()
        s = m.end()
    if s < len(chunk):
        yield start + s, end


def _trim(text: str, a: int, b: int) -> tuple[int, int] | None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


def sentences(text: str, lang: str | None = None) -> list[Span]:
    """Split a note into sentences.

    Parameters
    ----------
    text : str
        The note.
    lang : {"en", "zh"} or None
        Language; detected when None.

    Returns
    -------
    list of Span
        Sentences in order, stripped of surrounding whitespace.
    """
    lang = lang or detect_lang(text)
    blocks: list[tuple[int, int]] = []
    prev = ""
    for a, b in _lines(text):
        line = text[a:b]
        if blocks and not _line_starts_block(line, prev) and lang == "en":
            blocks[-1] = (blocks[-1][0], b)
        else:
            blocks.append((a, b))
        prev = line
    out: list[Span] = []
    split = _split_zh if lang == "zh" else _split_en
    for a, b in blocks:
        # a header line "HISTORY OF PRESENT ILLNESS: text" keeps the header as its own sentence
        line = text[a:b]
        m = _HEADER_LINE.match(line) if lang == "en" else None
        if m:
            t = _trim(text, a, a + m.end())
            if t:
                out.append(Span(t[0], t[1], text[t[0] : t[1]]))
            a += m.end()
        for s, e in split(text, a, b):
            t = _trim(text, s, e)
            if t:
                out.append(Span(t[0], t[1], text[t[0] : t[1]]))
    return out


# -- tokens ----------------------------------------------------------------------------------
_EN_TOKEN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # b.i.d. p.o. e.g.
    r"|\d+(?:[.,]\d+)*(?:\s?%)?"  # 2.5 1,000 5%
    r"|[A-Za-z]+(?:['’-][A-Za-z]+)*"  # words, hyphenated words
    r"|[^\sA-Za-z\d]"  # punctuation and other characters one by one
)

_jieba_lock = threading.Lock()


@cache
def _jieba() -> Any:
    """A jieba tokenizer with the medical user dictionary from the bundled lexicons."""
    jieba = require("jieba", "text")
    import logging

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    from medai.text.lexicon import bundled_terms

    with _jieba_lock:
        tok.initialize()
        for term in bundled_terms("zh"):
            if len(term) > 1 and " " not in term:
                tok.add_word(term, freq=20000)
    return tok


def tokens(text: str, lang: str | None = None) -> list[Span]:
    """Tokens with offsets: regex rules for English, jieba (medical dictionary) for Chinese.

    English keeps ``b.i.d.``, ``2.5`` and hyphenated words whole; Chinese words come from
    jieba, with English words and numbers inside Chinese text tokenised as in English.
    """
    lang = lang or detect_lang(text)
    if lang == "en":
        return [Span(m.start(), m.end(), m.group()) for m in _EN_TOKEN.finditer(text)]
    tok = _jieba()
    out: list[Span] = []
    for word, a, b in tok.tokenize(text):
        if word.isspace():
            continue
        if _CJK.search(word):
            out.append(Span(a, b, word))
        else:
            out.extend(
                Span(a + m.start(), a + m.end(), m.group()) for m in _EN_TOKEN.finditer(word)
            )
    return out
