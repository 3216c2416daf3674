"""A trainable PHI sequence tagger: a linear-chain CRF (CRFsuite) over words or characters.

English notes are tagged word by word (``\\w+`` and single punctuation marks), Chinese notes
character by character, with BIO labels per PHI type. Features: the token, its shape, prefixes
and suffixes, case, digits, the name and place dictionaries of :mod:`medai.privacy.gazetteer`
(first name, last name, common word, city, clinical word, in none of them; Chinese surname and
given-name characters); the word, capitalisation and name-dictionary flags of the two tokens
on each side. A span's score is the mean marginal probability of its labels.

The tagger is trained by :func:`train_tagger` (CLI ``medai deid train-tagger``) on
hand-annotated notes plus synthetic notes (:mod:`medai.privacy.synth`). medai ships one per
language in ``medai/privacy/models``, trained with the defaults on the ``train`` split of
``tests/data/deid`` (2,400 English notes by 24 authors, 1,200 Chinese notes by twelve; never
the dev or test notes)::

    medai deid train-tagger -o src/medai/privacy/models \\
        --gold tests/data/deid/train_en.jsonl --gold tests/data/deid/train_zh.jsonl

Model files are CRFsuite's own binary format (never a pickle).
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from medai.core.errors import BundleError, InvalidInputError, require
from medai.privacy.evaluate import GoldNote
from medai.privacy.phi import Span

__all__ = ["Tagger", "default_tagger", "default_tagger_path", "train_tagger"]

Progress = Callable[[str, int, int], None]
_EN_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|[^\w\s]")
_ZH_TOKEN = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]+|\d+|[^\w\s]|_")


def _tokens(text: str, lang: str) -> list[tuple[int, int]]:
    rx = _ZH_TOKEN if lang == "zh" else _EN_TOKEN
    return [(m.start(), m.end()) for m in rx.finditer(text)]


def _shape(w: str) -> str:
    s = re.sub(r"[A-Z]", "X", w)
    s = re.sub(r"[a-z]", "x", s)
    s = re.sub(r"\d", "d", s)
    return re.sub(r"(.)\1{2,}", r"\1\1", s)


def _token_features(w: str, lang: str) -> tuple[str, ...]:
    """Binary features of one token (strings; CRFsuite treats each as present/absent)."""
    from medai.privacy.english import _clinical_words, _common_words
    from medai.privacy.gazetteer import gazetteer

    g = gazetteer()
    lw = w.lower()
    f = [f"w={lw}", f"shape={_shape(w)}"]
    if lang == "zh" and "\u4e00" <= w <= "\u9fff":
        if w in g.zh_surnames:
            f.append("sur")
        if w in g.zh_given_chars:
            f.append("given")
        return tuple(f)
    # other tokens (and Latin words in a Chinese note: "其妻Sarah Thompson"): English clues
    known = {"first": lw in g.first_names, "last": lw in g.last_names,
             "common": lw in _common_words(), "city": lw in g.cities_en,
             "clin": lw in _clinical_words()}  # fmt: skip
    # a word in none of the dictionaries (LifeLabs, Boudreaux): names and firms often are
    known["oov"] = len(w) > 1 and w[0].isalpha() and not any(known.values())
    for flag, on in (("title", w.istitle()), ("upper", w.isupper()), ("digit", w.isdigit()),
                     *known.items()):  # fmt: skip
        if on:
            f.append(flag)
    if lang == "zh":
        return tuple(f)
    f += [f"p3={lw[:3]}", f"s3={lw[-3:]}", f"len={min(len(w), 8)}"]
    return tuple(f)


_CONTEXT = ("w=", "title", "first", "last", "sur")  # what a token shows its neighbours


@functools.lru_cache(maxsize=131072)
def _cached_features(w: str, lang: str) -> tuple[str, ...]:
    return _token_features(w, lang)


@functools.lru_cache(maxsize=262144)
def _context_features(w: str, lang: str, offset: int) -> tuple[str, ...]:
    """The token's features that its neighbours see, prefixed with the offset."""
    return tuple(f"{offset}:{x}" for x in _cached_features(w, lang) if x.startswith(_CONTEXT))


def _features(text: str, spans: list[tuple[int, int]], lang: str) -> list[list[str]]:
    words = [text[a:b] for a, b in spans]
    n = len(words)
    own = [_cached_features(w, lang) for w in words]
    ctx = {d: [_context_features(w, lang, d) for w in words] for d in (-2, -1, 1, 2)}
    out = []
    for i in range(n):
        f = ["bias", *own[i],
             *(ctx[-2][i - 2] if i >= 2 else ("-2:edge",)),
             *(ctx[-1][i - 1] if i >= 1 else ("-1:edge",)),
             *(ctx[1][i + 1] if i + 1 < n else ("1:edge",)),
             *(ctx[2][i + 2] if i + 2 < n else ("2:edge",))]  # fmt: skip
        if lang == "zh":
            if i + 1 < n:
                f.append("bi+=" + words[i] + words[i + 1])
            if i > 0:
                f.append("bi-=" + words[i - 1] + words[i])
        start = spans[i][0]
        if (
            (start == 0 or text[start - 1] == "\n")
            if i == 0
            else "\n" in text[spans[i - 1][1] : start]
        ):
            f.append("bol")
        out.append(f)
    return out


def _bio(spans: list[tuple[int, int]], gold: Sequence[Span]) -> list[str]:
    labels = ["O"] * len(spans)
    for s in gold:
        first = True
        for i, (a, b) in enumerate(spans):
            if a >= s.start and b <= s.end:
                labels[i] = ("B-" if first else "I-") + s.type
                first = False
    return labels


class Tagger:
    """A trained CRF tagger for one language; :meth:`find` gives PHI spans with scores."""

    def __init__(self, path: str | Path, lang: str) -> None:
        crf = require("pycrfsuite", "privacy")
        self.path = Path(path)
        self.lang = lang
        self._tagger = crf.Tagger()
        try:
            self._tagger.open(str(self.path))
        except Exception as exc:  # CRFsuite raises ValueError/OSError on a bad file
            raise BundleError(f"{str(path)!r} is not a CRFsuite model ({exc})") from None

    def find(self, text: str, lang: str | None = None) -> list[Span]:
        """PHI spans the tagger sees in ``text`` (only for its own language)."""
        if (lang or self.lang) != self.lang or not text.strip():
            return []
        toks = _tokens(text, self.lang)
        if not toks:
            return []
        labels = self._tagger.tag(_features(text, toks, self.lang))
        out: list[Span] = []
        i = 0
        while i < len(labels):
            if labels[i] == "O":
                i += 1
                continue
            kind = labels[i][2:]
            j = i + 1
            while j < len(labels) and labels[j] == f"I-{kind}":
                j += 1
            probs = [self._tagger.marginal(labels[k], k) for k in range(i, j)]
            a, b = toks[i][0], toks[j - 1][1]
            out.append(Span(a, b, kind, text[a:b], "tagger", sum(probs) / len(probs)))
            i = j
        return out


class _Pair:
    """The English and Chinese taggers behind one ``find``."""

    def __init__(self, taggers: dict[str, Tagger]) -> None:
        self.taggers = taggers

    def find(self, text: str, lang: str) -> list[Span]:
        tagger = self.taggers.get(lang)
        return tagger.find(text, lang) if tagger is not None else []


def default_tagger_path() -> Path | None:
    """Folder of medai's bundled taggers (``tagger_en.crfsuite``, ``tagger_zh.crfsuite``)."""
    folder = Path(str(resources.files("medai.privacy") / "models"))
    return folder if (folder / "tagger_en.crfsuite").exists() else None


def default_tagger(path: str | Path | None = None) -> _Pair | None:
    """The bundled taggers (or those in ``path``); None when absent or CRFsuite is missing."""
    folder = Path(path) if path is not None else default_tagger_path()
    if folder is None:
        return None
    if path is not None and not any(
        (folder / f"tagger_{c}.crfsuite").exists() for c in ("en", "zh")
    ):
        raise InvalidInputError(f"{str(folder)!r} holds no tagger_en.crfsuite or tagger_zh.crfsuite "
                                "(train them with `medai deid train-tagger`)")  # fmt: skip
    try:
        require("pycrfsuite", "privacy")
    except Exception:
        return None
    taggers = {lang: Tagger(folder / f"tagger_{lang}.crfsuite", lang) for lang in ("en", "zh")
               if (folder / f"tagger_{lang}.crfsuite").exists()}  # fmt: skip
    return _Pair(taggers) if taggers else None


def _case_variants(notes: Sequence[GoldNote]) -> list[GoldNote]:
    """Lower-case copies of every note and upper-case copies of every third (same offsets):
    English notes are often typed all in lower case or have headers and signatures in
    capitals, and the tagger should not depend on case alone."""
    out = []
    for i, note in enumerate(notes):
        for conv in (str.lower, str.upper) if i % 3 == 0 else (str.lower,):
            text = conv(note.text)
            if len(text) != len(note.text):  # a few letters change length ("ß" -> "SS")
                continue
            spans = [Span(s.start, s.end, s.type, text[s.start : s.end]) for s in note.spans]
            out.append(GoldNote(note.id, text, spans, note.patient_id, note.lang))
    return out


def train_tagger(
    out: str | Path,
    lang: str,
    *,
    notes: Sequence[GoldNote] | None = None,
    n_synthetic: int = 500,
    seed: int = 0,
    case_variants: bool = True,
    max_iterations: int = 150,
    c1: float = 0.05,
    c2: float = 0.01,
    progress: Progress | None = None,
) -> Path:
    """Train a CRF tagger on gold notes plus ``n_synthetic`` synthetic ones; write it to ``out``.

    ``notes`` are hand-annotated notes of this language (medai's bundled taggers use the
    ``train`` split of ``tests/data/deid``); ``case_variants`` adds lower/upper-case copies
    of them for English. The model is written to a temporary file and renamed, so a failed
    run leaves nothing.
    """
    crf = require("pycrfsuite", "privacy")
    from medai.privacy.synth import synthetic_notes

    if lang not in ("en", "zh"):
        raise InvalidInputError(f"lang must be 'en' or 'zh', got {lang!r}")
    if n_synthetic < 0:
        raise InvalidInputError(f"n_synthetic must be >= 0, got {n_synthetic}")
    gold = list(notes or [])
    if not gold and not n_synthetic:
        raise InvalidInputError("no training notes: give gold notes or n_synthetic > 0")
    if case_variants and lang == "en":
        gold += _case_variants(gold)
    everything = gold + synthetic_notes(n_synthetic, lang, seed=seed)
    trainer = crf.Trainer(verbose=False)
    for i, note in enumerate(everything):
        toks = _tokens(note.text, lang)
        if toks:
            trainer.append(_features(note.text, toks, lang), _bio(toks, note.spans))
        if progress is not None and (i + 1) % 200 == 0:
            progress("features", i + 1, len(everything))
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": max_iterations,
                        "feature.possible_transitions": True})  # fmt: skip
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        if progress is not None:
            progress("training", 0, 1)
        trainer.train(str(tmp_path))
        tmp_path.chmod(0o644)
        tmp_path.replace(out)
    finally:
        tmp_path.unlink(missing_ok=True)
    if progress is not None:
        progress("training", 1, 1)
    return out
