"""The text bundle: a note classifier with predict and word-level explanations.

Three kinds of model share one bundle class, :class:`TextBundle`:

``tfidf``
    TF-IDF of word 1-2 grams (English) and character 1-3 grams (Chinese) + logistic regression.
    The vocabulary is JSON, idf and coefficients safetensors; the transform and the scores are
    computed here with numpy/scipy, so predictions after :meth:`TextBundle.load` are identical.
``gru`` / ``bilstm``
    A GRU or bidirectional LSTM over word tokens (Chinese: characters) with mean + max pooling;
    safetensors weights and a JSON vocabulary.
``transformer``
    A pretrained encoder (Hugging Face ``AutoModel``) with mean pooling and a linear head,
    fine-tuned; its config, tokenizer files and safetensors weights travel in the bundle, so it
    loads offline.

Tokens
------
A note is Chinese when CJK ideographs are at least 20% of its non-space characters. English
tokens are lower-case words and numbers (``[a-z]+(?:'[a-z]+)?|\\d+(?:\\.\\d+)?``); Chinese
tokens are single CJK characters plus the English words and numbers inside the note. Every
token keeps its character offsets into the original note (end exclusive).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from medai.core.bundle import Bundle
from medai.core.errors import BundleError, InvalidInputError, SchemaError, require
from medai.core.training import torch_threads

if TYPE_CHECKING:
    import torch

__all__ = ["LANGS", "MODELS", "TextBundle", "TextExplanation", "WordWeight"]

#: Model kinds, in the order of the issue: classic NLP, recurrent networks, transformers.
MODELS = ("tfidf", "gru", "bilstm", "transformer")
#: Languages a note can be detected as.
LANGS = ("en", "zh")

TFIDF_JSON = "tfidf.json"
TFIDF_WEIGHTS = "tfidf.safetensors"
VOCAB_JSON = "vocab.json"
WEIGHTS = "model.safetensors"
ENCODER_CONFIG = "encoder-config.json"
TOKENIZER_PREFIX = "tokenizer-"
#: n-gram ranges of the TF-IDF features by language (over the tokens described above).
NGRAMS = {"en": (1, 2), "zh": (1, 3)}
PAD, UNK = "<pad>", "<unk>"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_WORD = r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?"
_EN_RE = re.compile(_WORD)
_ZH_RE = re.compile(f"[{_CJK}]|{_WORD}")

FloatArray = NDArray[np.float64]
Token = tuple[str, int, int]


# --------------------------------------------------------------------------- tokens
def _langs(texts: Sequence[str], lang: str | None) -> list[str]:
    """The language of each note: ``lang`` when forced, else detected per note."""
    from medai.text.segment import detect_lang

    return [lang or detect_lang(t) for t in texts]


def _tokens(text: str, lang: str) -> list[Token]:
    """``(token, start, end)`` of a note's tokens: lower-case words/numbers (+ CJK characters)."""
    pattern = _ZH_RE if lang == "zh" else _EN_RE
    return [(m.group().lower(), m.start(), m.end()) for m in pattern.finditer(text)]


def _check_lang(lang: str | None) -> str | None:
    if lang is not None and lang not in LANGS:
        raise InvalidInputError(
            f"lang {lang!r} is not supported; use one of {LANGS} or None (detect)"
        )
    return lang


def _as_texts(x: Any, column: str) -> list[str]:
    """Notes from a string, a list of strings, a Series or a DataFrame (its ``column``)."""
    if isinstance(x, str):
        values: list[Any] = [x]
    elif isinstance(x, pd.DataFrame):
        if column not in x.columns:
            raise SchemaError(
                f"text column {column!r} is not in the data; columns are {list(map(str, x.columns))}"
            )
        values = x[column].tolist()
    elif isinstance(x, pd.Series | list | tuple | np.ndarray):
        values = list(x)
    else:
        raise InvalidInputError(
            f"notes given as {type(x).__name__}; expected a string, a list of strings, "
            "a pandas Series or a DataFrame"
        )
    return _check_texts(values, column)


def _check_texts(values: Sequence[Any], column: str) -> list[str]:
    """Refuse missing/blank notes, naming the rows (1-based)."""
    out: list[str] = []
    bad: list[int] = []
    for i, v in enumerate(values):
        if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
            bad.append(i + 1)
            continue
        s = v if isinstance(v, str) else str(v)
        if not s.strip():
            bad.append(i + 1)
        out.append(s)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (
            f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        )
        raise InvalidInputError(
            f"{len(bad)} note(s) in {column!r} are empty or missing: rows {shown} (1-based data "
            "rows); remove those rows or fill in the text"
        )
    if not out:
        raise InvalidInputError(f"no notes given in {column!r}; expected at least one")
    return out


# --------------------------------------------------------------------------- explanations
class WordWeight(NamedTuple):
    """One word (Chinese: character) of a note and its contribution to the prediction.

    ``start``/``end`` index the original note (end exclusive); ``weight`` > 0 pushed the
    prediction towards the predicted class, < 0 away from it.
    """

    token: str
    start: int
    end: int
    weight: float


@dataclass
class TextExplanation:
    """Why a note got its predicted label.

    Attributes
    ----------
    text : str
        The original note.
    lang : str
        ``"en"`` or ``"zh"``.
    predicted : str
        The predicted label.
    probability : float
        The predicted label's probability.
    words : list of WordWeight
        The ``top`` words with the largest ``|weight|``, largest first.
    tokens : list of WordWeight
        Every token of the note in text order (for highlighting); tokens past the model's
        ``max_len`` have weight 0.
    method : str
        How the weights were computed.
    """

    text: str
    lang: str
    predicted: str
    probability: float
    words: list[WordWeight]
    tokens: list[WordWeight] = field(repr=False)
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the CLI's JSON lines): label, probability, language, top words."""
        return {
            "predicted": self.predicted,
            "probability": round(self.probability, 6),
            "lang": self.lang,
            "method": self.method,
            "words": [
                {"token": w.token, "start": w.start, "end": w.end, "weight": round(w.weight, 6)}
                for w in self.words
            ],
        }

    def to_html(self) -> str:
        """The note with each word's background green (towards the predicted label) or red
        (away from it), opacity proportional to ``|weight|``; the text is HTML-escaped."""
        scale = max((abs(t.weight) for t in self.tokens), default=0.0)
        parts: list[str] = []
        pos = 0
        for t in sorted(self.tokens, key=lambda w: w.start):
            if t.start < pos:
                continue
            parts.append(html.escape(self.text[pos : t.start]))
            word = html.escape(self.text[t.start : t.end])
            alpha = 0.85 * abs(t.weight) / scale if scale > 0 else 0.0
            if alpha >= 0.02:
                rgb = "56,161,105" if t.weight > 0 else "229,62,62"
                parts.append(
                    f'<span style="background:rgba({rgb},{alpha:.2f});border-radius:2px" '
                    f'title="{t.weight:+.4f}">{word}</span>'
                )
            else:
                parts.append(word)
            pos = t.end
        parts.append(html.escape(self.text[pos:]))
        head = (
            f"predicted <b>{html.escape(self.predicted)}</b> ({self.probability:.2f}) · "
            f"{'Chinese' if self.lang == 'zh' else 'English'} · green: towards, red: away from "
            "the predicted label"
        )
        return (
            f'<div class="medai-note" style="border:1px solid #cbd5e0;padding:.4em .7em;'
            f'margin:.5em 0"><p class="muted" style="margin:.2em 0">{head}</p>'
            f'<p lang="{self.lang}" style="white-space:pre-wrap;margin:.2em 0">'
            f"{''.join(parts)}</p></div>"
        )


def _explanation(
    text: str, lang: str, label: str, prob: float, tokens: list[Token], weights: FloatArray,
    top: int, method: str,
) -> TextExplanation:  # fmt: skip
    all_tokens = [
        WordWeight(t, s, e, float(w)) for (t, s, e), w in zip(tokens, weights, strict=True)
    ]
    order = sorted(range(len(all_tokens)), key=lambda i: (-abs(all_tokens[i].weight), i))
    words = [all_tokens[i] for i in order[:top] if all_tokens[i].weight != 0.0]
    return TextExplanation(text, lang, label, prob, words, all_tokens, method)


# --------------------------------------------------------------------------- engines
class _Engine(ABC):
    """A fitted classifier: class probabilities and per-token weights for notes."""

    @abstractmethod
    def probs(self, texts: Sequence[str], langs: Sequence[str]) -> FloatArray:
        """Class probabilities of shape (n_notes, n_classes)."""

    @abstractmethod
    def token_weights(
        self, text: str, lang: str, target: int, tokens: list[Token], steps: int | None
    ) -> FloatArray:
        """Contribution of each of ``tokens`` (n_tokens,) towards class ``target``."""

    @abstractmethod
    def to_files(self) -> dict[str, bytes]:
        """The engine's bundle files."""

    method: str = ""


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def _ngrams(tokens: Sequence[Token], lang: str) -> list[tuple[str, int, int]]:
    """``(feature, first token index, n)`` of every n-gram of the note's tokens."""
    lo, hi = NGRAMS.get(lang, NGRAMS["en"])
    words = [t[0] for t in tokens]
    return [
        (" ".join(words[i : i + n]), i, n)
        for n in range(lo, hi + 1)
        for i in range(len(words) - n + 1)
    ]


class _Vectorizer:
    """TF-IDF over :func:`_ngrams` features: ``(1 + log tf) * idf``, rows L2-normalised.

    ``idf = ln((1 + n_docs) / (1 + df)) + 1`` (scikit-learn's smoothed idf).
    """

    def __init__(self, vocab: list[str], idf: FloatArray, min_df: int = 1) -> None:
        self.vocab = vocab
        self.min_df = min_df
        self.idf = np.asarray(idf, dtype=np.float64)
        self.index = {f: i for i, f in enumerate(vocab)}

    @classmethod
    def fit(
        cls, feats: Sequence[Sequence[str]], *, min_df: int = 2, max_features: int = 100_000
    ) -> _Vectorizer:
        """Vocabulary (features in >= ``min_df`` notes, the ``max_features`` most frequent)."""
        df: Counter[str] = Counter()
        for doc in feats:
            df.update(set(doc))
        if min_df > 1 and sum(1 for c in df.values() if c >= min_df) < 10:
            min_df = 1  # tiny data: keep every feature rather than none
        kept = [(f, c) for f, c in df.items() if c >= min_df]
        kept.sort(key=lambda fc: (-fc[1], fc[0]))
        kept = sorted(kept[:max_features])
        n = len(feats)
        idf = np.array([math.log((1 + n) / (1 + c)) + 1.0 for _, c in kept], dtype=np.float64)
        return cls([f for f, _ in kept], idf, min_df)

    def transform(self, feats: Sequence[Sequence[str]]) -> Any:
        """scipy CSR matrix (n_notes, n_features), float64."""
        from scipy import sparse

        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for doc in feats:
            counts = Counter(self.index[f] for f in doc if f in self.index)
            cols = sorted(counts)
            vals = np.array([1.0 + math.log(counts[c]) for c in cols]) * self.idf[cols]
            norm = float(np.sqrt(np.sum(vals**2)))
            if norm > 0:
                vals = vals / norm
            indices.extend(cols)
            data.extend(vals.tolist())
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(feats), len(self.vocab)),
        )


class _TfidfEngine(_Engine):
    """TF-IDF + logistic regression; ``coef`` (1 or n_classes, n_features), ``intercept``."""

    method = "coefficient x tf-idf per n-gram, shared over its tokens"

    def __init__(
        self, vectorizer: _Vectorizer, coef: FloatArray, intercept: FloatArray, n_classes: int
    ) -> None:
        self.vectorizer = vectorizer
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.n_classes = n_classes

    def features(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[str]]:
        return [
            [f for f, _, _ in _ngrams(_tokens(t, g), g)] for t, g in zip(texts, langs, strict=True)
        ]

    def scores(self, x: Any) -> FloatArray:
        z = np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept
        if self.coef.shape[0] == 1:
            p1 = 0.5 * (1.0 + np.tanh(0.5 * z[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        return _softmax(z)

    def probs(self, texts: Sequence[str], langs: Sequence[str]) -> FloatArray:
        return self.scores(self.vectorizer.transform(self.features(texts, langs)))

    def class_weights(self, target: int) -> FloatArray:
        """Coefficients towards class ``target`` (binary: sign-flipped for class 0)."""
        if self.coef.shape[0] == 1:
            return self.coef[0] if target == 1 else -self.coef[0]
        return np.asarray(self.coef[target] - self.coef.mean(axis=0), dtype=np.float64)

    def token_weights(
        self, text: str, lang: str, target: int, tokens: list[Token], steps: int | None
    ) -> FloatArray:
        grams = _ngrams(tokens, lang)
        x = self.vectorizer.transform([[f for f, _, _ in grams]])
        value = dict(zip(x.indices.tolist(), x.data.tolist(), strict=True))
        w = self.class_weights(target)
        index = self.vectorizer.index
        occurrences = Counter(f for f, _, _ in grams if f in index)
        out = np.zeros(len(tokens))
        for f, i, n in grams:
            j = index.get(f)
            if j is None:
                continue
            share = value.get(j, 0.0) * w[j] / occurrences[f] / n
            out[i : i + n] += share
        return out

    def top_features(self, target: int, k: int = 15) -> list[tuple[str, float]]:
        w = self.class_weights(target)
        order = np.argsort(-w)[:k]
        return [(self.vectorizer.vocab[j], float(w[j])) for j in order]

    def to_files(self) -> dict[str, bytes]:
        from safetensors.numpy import save

        meta = {"vocabulary": self.vectorizer.vocab, "ngrams": NGRAMS, "tf": "1 + log(count)",
                "idf": "ln((1 + n) / (1 + df)) + 1", "norm": "l2"}  # fmt: skip
        weights = {"idf": self.vectorizer.idf, "coef": self.coef, "intercept": self.intercept}
        return {
            TFIDF_JSON: json.dumps(meta, ensure_ascii=False).encode(),
            TFIDF_WEIGHTS: bytes(save({k: np.ascontiguousarray(v) for k, v in weights.items()})),
        }

    @classmethod
    def from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> _TfidfEngine:
        from safetensors.numpy import load

        meta = json.loads(files[TFIDF_JSON])
        w = load(files[TFIDF_WEIGHTS])
        vec = _Vectorizer(list(meta["vocabulary"]), w["idf"])
        if w["coef"].shape[1] != len(vec.vocab) or w["idf"].shape[0] != len(vec.vocab):
            raise BundleError("the TF-IDF vocabulary and weights of this bundle differ in size")
        return cls(vec, w["coef"], w["intercept"], len(card["output"]["classes"]))


class _TorchEngine(_Engine):
    """Shared by the recurrent and transformer engines: batching, probabilities, IG."""

    net: Any
    max_len: int
    batch_size: int = 64
    default_steps: int = 20
    #: torch threads for inference (the small recurrent nets run fastest on one)
    threads: int | None = None

    @abstractmethod
    def encode(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[int]]:
        """Token ids of each note (truncated to ``max_len``)."""

    @abstractmethod
    def collate(self, seqs: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """A padded batch from id lists."""

    @abstractmethod
    def logits(self, batch: dict[str, torch.Tensor], embeds: torch.Tensor | None = None) -> Any:
        """Logits (batch, n_classes); ``embeds`` replaces the input embeddings when given."""

    @abstractmethod
    def embed(self, batch: dict[str, torch.Tensor]) -> tuple[Any, Any]:
        """(input embeddings, IG baseline embeddings), each (batch, length, dim)."""

    @abstractmethod
    def piece_to_tokens(
        self, text: str, lang: str, tokens: list[Token], attributions: FloatArray
    ) -> FloatArray:
        """Sum model-piece attributions onto the note's tokens."""

    def probs(self, texts: Sequence[str], langs: Sequence[str]) -> FloatArray:
        return self.probs_encoded(self.encode(texts, langs))

    def probs_encoded(self, seqs: Sequence[Sequence[int]]) -> FloatArray:
        """Probabilities for encoded notes, batched by length (the result keeps their order)."""
        import torch

        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = np.zeros((len(seqs), self.n_classes))
        self.net.eval()
        with torch.no_grad(), torch_threads(self.threads):
            for i in range(0, len(order), self.batch_size):
                ids = order[i : i + self.batch_size]
                logits = self.logits(self.collate([seqs[j] for j in ids]))
                out[ids] = torch.softmax(logits.double(), dim=1).numpy()
        return out

    @property
    def n_classes(self) -> int:
        return int(self.net["head"].out_features)

    def token_weights(
        self, text: str, lang: str, target: int, tokens: list[Token], steps: int | None
    ) -> FloatArray:
        """Integrated gradients of log p(target) on the input embeddings (midpoint rule)."""
        import torch

        m = steps or self.default_steps
        self.net.eval()
        batch = self.collate(self.encode([text], [lang]))
        with torch_threads(self.threads):
            emb, base = self.embed(batch)
            emb, base = emb.detach(), base.detach()
            alphas = (torch.arange(m, dtype=emb.dtype) + 0.5) / m
            path = (base + alphas.view(-1, 1, 1) * (emb - base)).requires_grad_(True)
            big = {k: v.expand(m, *v.shape[1:]) for k, v in batch.items()}
            logp = torch.log_softmax(self.logits(big, embeds=path), dim=1)[:, target].sum()
            (grad,) = torch.autograd.grad(logp, path)
        attr = ((emb - base)[0] * grad.mean(0)).sum(-1).double().numpy()
        return self.piece_to_tokens(text, lang, tokens, attr)

    def state_bytes(self) -> bytes:
        from safetensors.torch import save

        state = {k: v.detach().clone().contiguous() for k, v in self.net.state_dict().items()}
        return bytes(save(state))

    def load_state(self, data: bytes) -> None:
        from safetensors.torch import load

        try:
            self.net.load_state_dict(load(data))
        except (RuntimeError, ValueError) as exc:
            raise BundleError(f"the text bundle's weights do not fit its model ({exc})") from None
        self.net.eval()


def _default_threads() -> int:
    """All cores but one (at most 8): torch's OpenMP threads slow down many-fold when another
    process holds one of them, which is common on small shared machines."""
    return max(1, min((os.cpu_count() or 1) - 1, 8))


def _build_rnn(
    kind: str, vocab_size: int, n_classes: int, embed_dim: int, hidden: int, dropout: float
) -> Any:
    from torch import nn

    if kind == "bilstm":
        rnn: nn.Module = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        width = 2 * hidden
    else:
        rnn = nn.GRU(embed_dim, hidden, batch_first=True)
        width = hidden
    return nn.ModuleDict({
        "embedding": nn.Embedding(vocab_size, embed_dim, padding_idx=0),
        "dropout": nn.Dropout(dropout),
        "rnn": rnn,
        "head": nn.Linear(2 * width, n_classes),  # mean + max pooling
    })  # fmt: skip


class _RnnEngine(_TorchEngine):
    """GRU / BiLSTM over tokens; id 0 is padding, 1 unknown."""

    method = "integrated gradients on the token embeddings (baseline: zero embedding)"
    threads = 1

    def __init__(self, net: Any, vocab: list[str], max_len: int) -> None:
        self.net = net
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}
        self.max_len = max_len

    def encode(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[int]]:
        out = []
        for t, g in zip(texts, langs, strict=True):
            ids = [self.index.get(tok, 1) for tok, _, _ in _tokens(t, g)[: self.max_len]]
            out.append(ids or [1])
        return out

    def collate(self, seqs: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return {"ids": ids, "lengths": torch.tensor([len(s) for s in seqs], dtype=torch.long)}

    def embed(self, batch: dict[str, torch.Tensor]) -> tuple[Any, Any]:
        import torch

        emb = self.net["embedding"](batch["ids"])
        return emb, torch.zeros_like(emb)

    def logits(self, batch: dict[str, torch.Tensor], embeds: torch.Tensor | None = None) -> Any:
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        x = self.net["embedding"](batch["ids"]) if embeds is None else embeds
        x = self.net["dropout"](x)
        lengths = batch["lengths"]
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.net["rnn"](packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        mask = (torch.arange(x.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1)
        mean = (out * mask).sum(1) / lengths.unsqueeze(1).to(out.dtype)
        mx = out.masked_fill(~mask, float("-inf")).max(1).values
        return self.net["head"](self.net["dropout"](torch.cat([mean, mx], dim=1)))

    def piece_to_tokens(
        self, text: str, lang: str, tokens: list[Token], attributions: FloatArray
    ) -> FloatArray:
        out = np.zeros(len(tokens))
        n = min(len(tokens), len(attributions))
        out[:n] = attributions[:n]
        return out

    def to_files(self) -> dict[str, bytes]:
        return {
            VOCAB_JSON: json.dumps(self.vocab, ensure_ascii=False).encode(),
            WEIGHTS: self.state_bytes(),
        }

    @classmethod
    def from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> _RnnEngine:
        m = card["model"]
        vocab = list(json.loads(files[VOCAB_JSON]))
        net = _build_rnn(m["kind"], len(vocab), len(card["output"]["classes"]),
                         m["embed_dim"], m["hidden_size"], m["dropout"])  # fmt: skip
        engine = cls(net, vocab, int(card["input"]["max_len"]))
        engine.load_state(files[WEIGHTS])
        return engine


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' loading bars and warnings for one call (library prints nothing)."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _build_transformer_head(encoder: Any, n_classes: int, dropout: float) -> Any:
    from torch import nn

    hidden = int(encoder.config.hidden_size)
    return nn.ModuleDict(
        {"encoder": encoder, "dropout": nn.Dropout(dropout), "head": nn.Linear(hidden, n_classes)}
    )


class _TransformerEngine(_TorchEngine):
    """A pretrained encoder + mean pooling + linear head; a fast tokenizer (offsets)."""

    method = "integrated gradients on the word-piece embeddings (baseline: [PAD]), summed per word"
    batch_size = 32
    default_steps = 16

    def __init__(self, net: Any, tokenizer: Any, max_len: int) -> None:
        self.threads = _default_threads()
        self.net = net
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)

    def encode(self, texts: Sequence[str], langs: Sequence[str]) -> list[list[int]]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_len)
        return [list(ids) for ids in enc["input_ids"]]

    def collate(self, seqs: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
        return {"ids": ids, "mask": mask}

    def embed(self, batch: dict[str, torch.Tensor]) -> tuple[Any, Any]:
        import torch

        table = self.net["encoder"].get_input_embeddings()
        emb = table(batch["ids"])
        special = torch.tensor(
            self.tokenizer.get_special_tokens_mask(
                batch["ids"][0].tolist(), already_has_special_tokens=True
            ),
            dtype=torch.bool,
        ).view(1, -1, 1)
        pad = table(torch.full_like(batch["ids"], self.pad_id))
        return emb, torch.where(special, emb, pad)

    def pooled(self, batch: dict[str, torch.Tensor], embeds: torch.Tensor | None = None) -> Any:
        """Mean of the encoder's last hidden states over the note's word pieces (batch, dim)."""
        mask = batch["mask"]
        if embeds is None:
            out = self.net["encoder"](input_ids=batch["ids"], attention_mask=mask)
        else:
            out = self.net["encoder"](inputs_embeds=embeds, attention_mask=mask)
        hidden = out.last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def logits(self, batch: dict[str, torch.Tensor], embeds: torch.Tensor | None = None) -> Any:
        return self.net["head"](self.net["dropout"](self.pooled(batch, embeds)))

    def features_encoded(self, seqs: Sequence[Sequence[int]]) -> FloatArray:
        """Pooled encoder outputs (n_notes, dim) of encoded notes, in their order."""
        import torch

        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = np.zeros((len(seqs), int(self.net["head"].in_features)))
        self.net.eval()
        with torch.no_grad(), torch_threads(self.threads):
            for i in range(0, len(order), self.batch_size):
                ids = order[i : i + self.batch_size]
                out[ids] = self.pooled(self.collate([seqs[j] for j in ids])).double().numpy()
        return out

    def piece_to_tokens(
        self, text: str, lang: str, tokens: list[Token], attributions: FloatArray
    ) -> FloatArray:
        enc = self.tokenizer(text, truncation=True, max_length=self.max_len,
                             return_offsets_mapping=True)  # fmt: skip
        owner = np.full(len(text) + 1, -1)
        for k, (_, s, e) in enumerate(tokens):
            owner[s:e] = k
        out = np.zeros(len(tokens))
        for (s, e), a in zip(enc["offset_mapping"], attributions, strict=False):
            if e <= s:
                continue  # special tokens
            hit = sorted({int(o) for o in owner[s:e] if o >= 0})
            for k in hit:
                out[k] += a / len(hit)
        return out

    def to_files(self) -> dict[str, bytes]:
        files = {WEIGHTS: self.state_bytes()}
        with tempfile.TemporaryDirectory() as tmp:
            self.tokenizer.save_pretrained(tmp)
            self.net["encoder"].config.save_pretrained(tmp)
            for p in sorted(Path(tmp).rglob("*")):
                if p.is_file() and p.name == "config.json":
                    files[ENCODER_CONFIG] = p.read_bytes()
                elif p.is_file():
                    files[TOKENIZER_PREFIX + p.relative_to(tmp).as_posix().replace("/", "-")] = (
                        p.read_bytes()
                    )
        return files

    @classmethod
    def from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> _TransformerEngine:
        require("transformers", "text")
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        if ENCODER_CONFIG not in files:
            raise BundleError(f"the transformer bundle has no {ENCODER_CONFIG}")
        with tempfile.TemporaryDirectory() as tmp, _quiet_transformers():
            (Path(tmp) / "config.json").write_bytes(files[ENCODER_CONFIG])
            for name, data in files.items():
                if name.startswith(TOKENIZER_PREFIX):
                    (Path(tmp) / name[len(TOKENIZER_PREFIX) :]).write_bytes(data)
            try:
                config = AutoConfig.from_pretrained(tmp, local_files_only=True)
                tokenizer = AutoTokenizer.from_pretrained(tmp, local_files_only=True)
                encoder = AutoModel.from_config(config)
            except (OSError, ValueError, KeyError) as exc:
                raise BundleError(f"the transformer bundle cannot be rebuilt ({exc})") from None
        m = card["model"]
        net = _build_transformer_head(encoder, len(card["output"]["classes"]), m["dropout"])
        engine = cls(net, tokenizer, int(card["input"]["max_len"]))
        engine.load_state(files[WEIGHTS])
        return engine


_ENGINES: dict[str, type[_TfidfEngine] | type[_RnnEngine] | type[_TransformerEngine]] = {
    "tfidf": _TfidfEngine,
    "gru": _RnnEngine,
    "bilstm": _RnnEngine,
    "transformer": _TransformerEngine,
}


# --------------------------------------------------------------------------- the bundle
class TextBundle(Bundle):
    """A trained note classifier. Make one with :func:`medai.text.classify.train`."""

    pillar = "text"

    def __init__(self, card: dict[str, Any], engine: _Engine, report_html: str | None = None):
        super().__init__(card, report_html)
        self.engine = engine

    # -- contract ----------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.card["output"]["classes"]]

    @property
    def task(self) -> str:
        return str(self.card["task"])

    @property
    def kind(self) -> str:
        return str(self.card["model"]["kind"])

    @property
    def text_column(self) -> str:
        return str(self.card["input"]["text_column"])

    @property
    def label_column(self) -> str:
        return str(self.card["output"]["label_column"])

    @property
    def lang(self) -> str | None:
        lang = self.card["input"].get("lang")
        return str(lang) if lang else None

    # -- verbs -------------------------------------------------------------------------------
    def predict_proba(self, x: Any) -> FloatArray:
        """Class probabilities of shape (n_notes, n_classes), columns in :attr:`classes` order.

        ``x`` is a note, a list/Series of notes or a DataFrame with the training text column.
        """
        texts = _as_texts(x, self.text_column)
        return self.engine.probs(texts, _langs(texts, self.lang))

    def predict(self, x: Any) -> pd.DataFrame:
        """Predicted label and class probabilities of each note.

        Parameters
        ----------
        x
            A note (str), a list or pandas Series of notes, or a DataFrame holding the text
            column the model was trained on.

        Returns
        -------
        pandas.DataFrame
            One row per note: ``predicted``, ``p_<class>`` per class (summing to 1) and
            ``lang`` (``en``/``zh``, detected per note unless the model forces one).
        """
        texts = _as_texts(x, self.text_column)
        langs = _langs(texts, self.lang)
        probs = self.engine.probs(texts, langs)
        df = pd.DataFrame({"predicted": [self.classes[i] for i in probs.argmax(1)]})
        for j, c in enumerate(self.classes):
            df[f"p_{c}"] = probs[:, j]
        df["lang"] = langs
        return df

    def explain(self, x: Any, top: int = 10, *, steps: int | None = None) -> list[TextExplanation]:
        """The words that drove each note's prediction.

        Parameters
        ----------
        x
            Notes, as for :meth:`predict`.
        top
            Number of words (Chinese: characters) with the largest ``|weight|`` to keep in
            :attr:`TextExplanation.words`.
        steps
            Integrated-gradient steps for the neural models (default 20 for GRU/BiLSTM, 16 for
            transformers); unused by TF-IDF, whose weights are exact (coefficient x tf-idf).

        Returns
        -------
        list of TextExplanation
            One per note; weights > 0 pushed towards the predicted label.
        """
        if top < 1:
            raise InvalidInputError(f"top is {top}; expected a positive number of words")
        if steps is not None and steps < 1:
            raise InvalidInputError(f"steps is {steps}; expected a positive integer")
        texts = _as_texts(x, self.text_column)
        langs = _langs(texts, self.lang)
        probs = self.engine.probs(texts, langs)
        out = []
        for text, lang, p in zip(texts, langs, probs, strict=True):
            k = int(p.argmax())
            tokens = _tokens(text, lang)
            weights = self.engine.token_weights(text, lang, k, tokens, steps)
            out.append(_explanation(text, lang, self.classes[k], float(p[k]), tokens, weights,
                                    top, self.engine.method))  # fmt: skip
        return out

    # -- persistence -------------------------------------------------------------------------
    def _to_files(self) -> dict[str, bytes]:
        return self.engine.to_files()

    @classmethod
    def _from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> TextBundle:
        try:
            kind = str(card["model"]["kind"])
            engine_cls = _ENGINES[kind]
        except KeyError:
            raise BundleError("the text bundle's card names no known model kind") from None
        if kind != "tfidf":
            require("torch", "text")
        try:
            engine = engine_cls.from_files(card, files)
        except BundleError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"the text bundle's card or files are invalid ({exc!r})") from None
        return cls(card, engine)
