"""Training and validating note classifiers: TF-IDF + logistic regression, GRU/BiLSTM and
fine-tuned transformer encoders, on English and Chinese notes.

:func:`train` splits the notes (stratified, by patient when a group column is given) into
train/validation/test parts, fits the model (TF-IDF: C chosen on validation; neural models:
early stopping on validation AUROC), and documents it: a model card and a validation report
on the test part. :func:`evaluate` validates a bundle on new labelled notes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medai.core import report as rp
from medai.core.bundle import base_card, package_versions
from medai.core.errors import DataFileError, InvalidInputError, SchemaError, require
from medai.core.metrics import (
    Estimate,
    accuracy,
    auroc,
    binary_metrics,
    bootstrap,
    macro_auroc,
    macro_f1,
    multiclass_metrics,
)
from medai.core.tables import fingerprint, read_table
from medai.core.training import EarlyStopping, torch_threads
from medai.text.model import (
    LANGS,
    MODELS,
    NGRAMS,
    PAD,
    UNK,
    TextBundle,
    _build_rnn,
    _build_transformer_head,
    _check_lang,
    _check_texts,
    _default_threads,
    _langs,
    _ngrams,
    _quiet_transformers,
    _RnnEngine,
    _TfidfEngine,
    _tokens,
    _TorchEngine,
    _TransformerEngine,
    _Vectorizer,
)

__all__ = ["MODELS", "evaluate", "read_notes", "train"]

Progress = Callable[[str, int, int], None]

#: A class needs at least this many notes (so train, validation and test all hold some).
MIN_PER_CLASS = 10
#: Inverse regularisation strengths tried for the logistic regression (chosen on validation).
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
#: Per-model defaults of ``epochs``, ``batch_size``, ``lr`` and ``max_len``.
DEFAULTS: dict[str, dict[str, Any]] = {
    "tfidf": {"epochs": None, "batch_size": None, "lr": None, "max_len": None},
    "gru": {"epochs": 20, "batch_size": 32, "lr": 5e-3, "max_len": 256},
    "bilstm": {"epochs": 20, "batch_size": 32, "lr": 5e-3, "max_len": 256},
    "transformer": {"epochs": 3, "batch_size": 16, "lr": 5e-5, "max_len": 128},
}
RNN: dict[str, Any] = {
    "embed_dim": 64,
    "hidden_size": 64,
    "dropout": 0.3,
    "min_count": 2,
    "max_vocab": 30_000,
}
TRANSFORMER: dict[str, float] = {
    "dropout": 0.1,
    "weight_decay": 0.01,
    "warmup": 0.1,
    "head_lr_factor": 5.0,
    "probe_C": 1.0,
}
CLIP = 1.0
LANG_NAMES = {"en": "English", "zh": "Chinese"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


# --------------------------------------------------------------------------- data
def read_notes(path: str | Path) -> pd.DataFrame:
    """Read notes from CSV/TSV/Parquet (via :func:`~medai.core.tables.read_table`) or JSON lines.

    Parameters
    ----------
    path
        ``.csv``/``.tsv``/``.txt``/``.parquet``, or ``.jsonl``/``.ndjson`` (one JSON object per
        line) or ``.json`` (a list of objects).

    Returns
    -------
    pandas.DataFrame
        One row per note, shape (n_notes, n_columns).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*JSONL_SUFFIXES, ".json"):
        return read_table(path)
    if not path.is_file():
        raise DataFileError(f"data file {str(path)!r} does not exist; check the path")
    if path.stat().st_size == 0:
        raise DataFileError(f"data file {str(path)!r} is empty (0 bytes)")
    try:
        df = pd.read_json(path, lines=suffix != ".json", orient="records", dtype=False,
                          encoding="utf-8")  # fmt: skip
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "a list of JSON objects" if suffix == ".json" else "one JSON object per line"
        raise DataFileError(
            f"{str(path)!r} is not valid JSON ({type(exc).__name__}: {str(exc)[:120]}); "
            f"expected {kind}"
        ) from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataFileError(f"data file {str(path)!r} has no notes")
    df.columns = pd.Index([str(c).strip() for c in df.columns])
    return df


def _frame(data: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True), "DataFrame"
    if isinstance(data, str | Path):
        return read_notes(data), Path(data).name
    raise InvalidInputError(
        f"data given as {type(data).__name__}; expected a pandas DataFrame or a path to a "
        "CSV/TSV/Parquet/JSONL file"
    )


def _need_columns(df: pd.DataFrame, **columns: str | None) -> None:
    for role, col in columns.items():
        if col is not None and col not in df.columns:
            raise SchemaError(
                f"{role} column {col!r} is not in the data; columns are "
                f"{list(map(str, df.columns))}; pass the right one with --{role}"
            )


def _label_str(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _labels(col: pd.Series, name: str) -> list[str]:
    missing = np.flatnonzero(col.isna().to_numpy() | (col.astype(str).str.strip() == ""))
    if missing.size:
        rows = ", ".join(str(i + 1) for i in missing[:10])
        raise SchemaError(
            f"{missing.size} note(s) have no label in {name!r}: rows {rows}"
            f"{' and more' if missing.size > 10 else ''} (1-based data rows); remove those "
            "rows or fill in the label"
        )
    return [_label_str(v) for v in col.tolist()]


def _sort_classes(values: set[str]) -> list[str]:
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _check_counts(labels: Sequence[str], name: str) -> list[str]:
    counts = pd.Series(labels).value_counts()
    if len(counts) < 2:
        raise SchemaError(
            f"label column {name!r} has one class only ({counts.index[0]!r}, {int(counts.iloc[0])} "
            "notes); a classifier needs at least two labels"
        )
    few = {str(k): int(v) for k, v in counts.items() if v < MIN_PER_CLASS}
    if few:
        raise SchemaError(
            f"too few notes per class in {name!r}: {few}; each label needs at least "
            f"{MIN_PER_CLASS} notes (train, validation and test each need some); add notes or "
            "merge rare labels"
        )
    return _sort_classes(set(labels))


def _split(
    y: np.ndarray, groups: np.ndarray | None, test_size: float, val_size: float, seed: int
) -> dict[str, np.ndarray]:
    """Indices of train/val/test, stratified by label and grouped by patient when given."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    n = len(y)
    g = groups if groups is not None else np.arange(n).astype(str)

    def cut(idx: np.ndarray, fraction: float, salt: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(2, round(1 / fraction))
        folds: Any = (
            StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed + salt)
            if groups is not None  # without groups the same split, much faster
            else StratifiedKFold(n_splits=k, shuffle=True, random_state=seed + salt)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                rest, held = next(folds.split(idx, y[idx], g[idx]))
            except ValueError as exc:
                raise InvalidInputError(
                    f"cannot split {len(idx)} notes into {k} parts by patient ({exc}); "
                    "more patients are needed"
                ) from None
        return idx[rest], idx[held]

    rest, test = cut(np.arange(n), test_size, 0)
    tr, val = cut(rest, val_size / (1 - test_size), 1)
    return {"train": tr, "val": val, "test": test}


def _val_metric(y: np.ndarray, probs: np.ndarray) -> float:
    if probs.shape[1] == 2:
        return auroc(y, probs[:, 1])
    return macro_auroc(y, probs)


def _log_loss(y: np.ndarray, probs: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


# --------------------------------------------------------------------------- pretrained models
@contextmanager
def _offline() -> Iterator[None]:
    """``HF_HUB_OFFLINE=1`` while loading: nothing is fetched from the hub."""
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


def _transformer_folder(path: Path) -> Path:
    """The folder holding the transformer in a model folder (sentence-transformers aware)."""
    import json

    modules = path / "modules.json"
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text())
            sub = next(e.get("path", "") for e in entries if str(e.get("type", "")).endswith(
                "models.Transformer"))  # fmt: skip
        except (ValueError, StopIteration, AttributeError, TypeError):
            sub = ""
        if sub and (path / sub / "config.json").is_file():
            return path / sub
    if (path / "config.json").is_file():
        return path
    found = sorted(p.name for p in path.iterdir())[:12]
    raise InvalidInputError(
        f"pretrained folder {str(path)!r} is not a transformer model: it has no config.json "
        f"(it holds {found}); expected a Hugging Face model folder (config.json, weights, "
        "tokenizer files) or a sentence-transformers folder"
    )


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1


def _load_pretrained(pretrained: str | Path) -> tuple[Any, Any, dict[str, Any]]:
    """(tokenizer, encoder, info) from a local folder or the offline Hugging Face cache."""
    require("transformers", "text")
    from transformers import AutoModel, AutoTokenizer

    spec = str(pretrained)
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InvalidInputError(
                f"pretrained {spec!r} is a file; expected a model folder (config.json, weights, "
                "tokenizer files) or a Hugging Face hub id"
            )
        source: str = str(_transformer_folder(path))
        info = {"name": path.name, "source": "local folder"}
    elif _looks_like_path(spec) or isinstance(pretrained, Path):
        raise InvalidInputError(
            f"pretrained model folder {spec!r} does not exist; pass a local model folder or a "
            "Hugging Face hub id that is in the local cache"
        )
    else:
        source = spec
        info = {"name": spec, "source": "Hugging Face cache (offline)"}
    with _offline(), _quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            encoder = AutoModel.from_pretrained(source, local_files_only=True)
        except OSError as exc:
            if info["source"].startswith("Hugging Face"):
                raise InvalidInputError(
                    f"pretrained model {spec!r} could not be found offline: it is not a local "
                    "folder and is not in the Hugging Face cache (HF_HOME); download it where "
                    f"there is internet (e.g. `hf download {spec} --local-dir DIR`) and pass DIR"
                ) from None
            first = (
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
            raise InvalidInputError(
                f"pretrained folder {spec!r} could not be loaded as a transformer ({first}); "
                "expected config.json, model weights and tokenizer files"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"pretrained {spec!r} is not a transformer encoder medai can fine-tune "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidInputError(
            f"pretrained {spec!r} has no fast tokenizer (tokenizer.json); medai needs one to map "
            "word pieces back to words"
        )
    if not hasattr(encoder.config, "hidden_size"):
        raise InvalidInputError(f"pretrained {spec!r} has no hidden_size in its config")
    info["model_type"] = str(getattr(encoder.config, "model_type", ""))
    return tokenizer, encoder, info


# --------------------------------------------------------------------------- fitting
def _fit_tfidf(
    texts: list[str], langs: list[str], y: np.ndarray, idx: dict[str, np.ndarray], k: int,
    seed: int, progress: Progress | None,
) -> tuple[_TfidfEngine, list[dict[str, float]], dict[str, Any]]:  # fmt: skip
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    feats = [
        [f for f, _, _ in _ngrams(_tokens(t, g), g)] for t, g in zip(texts, langs, strict=True)
    ]
    tr, va = idx["train"], idx["val"]
    vec = _Vectorizer.fit([feats[i] for i in tr])
    x_tr = vec.transform([feats[i] for i in tr])
    x_va = vec.transform([feats[i] for i in va])
    history: list[dict[str, float]] = []
    steps = len(C_GRID) + 1

    # one estimator, C increasing, warm-started from the previous solution (fewer iterations)
    lr = LogisticRegression(class_weight="balanced", max_iter=5000, warm_start=True,
                            random_state=seed)  # fmt: skip

    def fit(x: Any, yy: np.ndarray, c: float, v: _Vectorizer) -> _TfidfEngine:
        with threadpool_limits(limits=1):  # OpenMP threads thrash on small fits: 1 is faster
            lr.set_params(C=c).fit(x, yy)
        return _TfidfEngine(v, lr.coef_.copy(), lr.intercept_.copy(), k)

    for i, c in enumerate(C_GRID):
        probs = fit(x_tr, y[tr], c, vec).scores(x_va)
        history.append({"C": c, "val_auroc": _val_metric(y[va], probs),
                        "val_log_loss": _log_loss(y[va], probs)})  # fmt: skip
        if progress:
            progress(f"C={c:g} val AUROC {history[-1]['val_auroc']:.3f}", i + 1, steps)
    best = max(history, key=lambda h: (round(h["val_auroc"], 4), -h["val_log_loss"]))
    both = np.concatenate([tr, va])
    final_vec = _Vectorizer.fit([feats[i] for i in both])
    lr = LogisticRegression(class_weight="balanced", max_iter=5000, random_state=seed)
    engine = fit(final_vec.transform([feats[i] for i in both]), y[both], best["C"], final_vec)
    if progress:
        progress(f"refit on train + validation with C={best['C']:g}", steps, steps)
    info = {"C": best["C"], "n_features": len(final_vec.vocab), "min_df": final_vec.min_df,
            "refit": "train + validation with the chosen C"}  # fmt: skip
    return engine, history, info


def _rnn_vocab(texts: list[str], langs: list[str]) -> list[str]:
    from collections import Counter

    counts: Counter[str] = Counter()
    for t, g in zip(texts, langs, strict=True):
        counts.update(tok for tok, _, _ in _tokens(t, g))
    # tiny data: keep singletons rather than mapping most words to <unk>
    min_count = RNN["min_count"] if sum(1 for c in counts.values() if c >= 2) >= 50 else 1
    kept = sorted((tok for tok, c in counts.items() if c >= min_count),
                  key=lambda tok: (-counts[tok], tok))[: RNN["max_vocab"]]  # fmt: skip
    return [PAD, UNK, *sorted(kept)]


def _linear_probe(
    engine: _TransformerEngine, seqs: list[list[int]], y: np.ndarray, k: int, seed: int
) -> None:
    """Start the head from a logistic regression on the frozen pooled embeddings (LP-FT)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    x = engine.features_encoded(seqs)
    with threadpool_limits(limits=1):
        lr = LogisticRegression(C=TRANSFORMER["probe_C"], class_weight="balanced",
                                max_iter=2000, random_state=seed).fit(x, y)  # fmt: skip
    coef, intercept = lr.coef_, lr.intercept_
    if k == 2:  # softmax over [-z/2, z/2] equals the logistic model's sigmoid(z)
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    head = engine.net["head"]
    with torch.no_grad():
        head.weight.copy_(torch.tensor(coef, dtype=head.weight.dtype))
        head.bias.copy_(torch.tensor(intercept, dtype=head.bias.dtype))


def _fit_torch(
    engine: _TorchEngine, texts: list[str], langs: list[str], y: np.ndarray,
    idx: dict[str, np.ndarray], *, k: int, epochs: int, batch_size: int, lr: float,
    patience: int, seed: int, max_minutes: float | None, progress: Progress | None,
    transformer: bool,
) -> tuple[list[dict[str, float]], int, float]:  # fmt: skip
    """Train with class-weighted cross-entropy and early stopping on validation AUROC."""
    import torch

    net = engine.net
    tr, va = idx["train"], idx["val"]
    enc_tr = engine.encode([texts[i] for i in tr], [langs[i] for i in tr])
    enc_va = engine.encode([texts[i] for i in va], [langs[i] for i in va])
    y_tr = torch.tensor(y[tr], dtype=torch.long)
    counts = np.bincount(y[tr], minlength=k).astype(float)
    weights = np.where(counts > 0, len(tr) / (k * np.maximum(counts, 1)), 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    n_batches = math.ceil(len(tr) / batch_size)
    total_steps = epochs * n_batches
    if transformer:
        assert isinstance(engine, _TransformerEngine)
        if progress:
            progress("linear probe on the frozen encoder", 0, total_steps)
        _linear_probe(engine, enc_tr, y[tr], k, seed)
        head = [p for n, p in net.named_parameters() if n.startswith("head.")]
        decay = [p for n, p in net.named_parameters()
                 if n.startswith("encoder.") and p.ndim > 1]  # fmt: skip
        no_decay = [p for n, p in net.named_parameters()
                    if n.startswith("encoder.") and p.ndim <= 1]  # fmt: skip
        wd = TRANSFORMER["weight_decay"]
        opt: torch.optim.Optimizer = torch.optim.AdamW([
            {"params": decay, "weight_decay": wd},
            {"params": no_decay, "weight_decay": 0.0},
            {"params": head, "weight_decay": wd, "lr": lr * TRANSFORMER["head_lr_factor"]},
        ], lr=lr)  # fmt: skip
        warm = max(1, int(TRANSFORMER["warmup"] * total_steps))

        def schedule(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return max(0.0, (total_steps - step) / max(1, total_steps - warm))

        sched: Any = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = None
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    stopper = EarlyStopping(net, best=-1.0, patience=patience,
                            max_seconds=None if max_minutes is None else max_minutes * 60)  # fmt: skip
    step = 0
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(tr), generator=gen).tolist()
        total, seen = 0.0, 0
        for i in range(0, len(perm), batch_size):
            b = perm[i : i + batch_size]
            opt.zero_grad()
            loss = loss_fn(engine.logits(engine.collate([enc_tr[j] for j in b])), y_tr[b])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP)
            opt.step()
            if sched is not None:
                sched.step()
            total += float(loss.item()) * len(b)
            seen += len(b)
            step += 1
            if progress:
                progress(f"epoch {epoch}/{epochs} loss {total / seen:.3f}", step, total_steps)
        val_auc = _val_metric(y[va], engine.probs_encoded(enc_va))
        val_auc = -1.0 if math.isnan(val_auc) else val_auc
        history.append({"epoch": epoch, "loss": total / max(seen, 1), "val_auroc": val_auc})
        if progress:
            progress(f"epoch {epoch}/{epochs} loss {total / max(seen, 1):.3f} "
                     f"val AUROC {val_auc:.3f}", step, total_steps)  # fmt: skip
        if stopper.step(val_auc, epoch):
            break
    stopper.restore()
    return history, stopper.epoch, stopper.best


# --------------------------------------------------------------------------- train
def train(
    data: Any,
    *,
    text: str = "text",
    label: str = "label",
    model: str = "tfidf",
    pretrained: str | Path | None = None,
    lang: str | None = None,
    test_size: float = 0.2,
    val_size: float = 0.15,
    group: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    max_len: int | None = None,
    patience: int = 3,
    max_minutes: float | None = None,
    n_boot: int = 1000,
    examples: int = 6,
    seed: int = 0,
    num_threads: int | None = None,
    progress: Progress | None = None,
) -> TextBundle:
    """Train, validate and document a note classifier.

    Parameters
    ----------
    data
        A DataFrame, or a CSV/TSV/Parquet/JSONL file, with one note per row.
    text, label
        The note column and the label column (two or more classes; each needs at least
        :data:`MIN_PER_CLASS` notes).
    model
        ``tfidf`` (TF-IDF word 1-2 grams + Chinese character 1-3 grams, logistic regression
        with C chosen on validation), ``gru``, ``bilstm`` (over word tokens; Chinese
        characters) or ``transformer`` (fine-tunes ``pretrained``).
    pretrained
        For ``transformer``: a local model folder (Hugging Face or sentence-transformers
        layout) or a hub id already in the local cache; nothing is downloaded.
    lang
        ``en`` or ``zh`` to force one language; default: detected per note (Chinese when CJK
        ideographs are >= 20% of its non-space characters).
    test_size, val_size
        Fractions of notes held out for the test report and for model selection / early
        stopping; splits are stratified by label and by ``group`` (patient id) when given.
    epochs, batch_size, lr, max_len
        Neural training budget; ``None`` takes the model's default from :data:`DEFAULTS`
        (GRU/BiLSTM: 20, 32, 5e-3, 256 tokens; transformer: 3, 16, 5e-5, 128 word pieces).
        The transformer uses AdamW, linear warm-up (10%) then linear decay, gradient clipping
        at 1.0 and a 20x learning rate for the new head.
    patience
        Early stopping: epochs without a better validation AUROC.
    max_minutes
        Stop neural training after this wall time (checked after each epoch).
    n_boot, examples, seed, num_threads, progress
        Bootstrap resamples for CIs; explained test notes shown in the report (0 keeps note
        text out of the report); seed; torch threads while training (default: 1 for the small
        recurrent nets, which run fastest on one; all cores but one, at most 8, for
        transformers, whose OpenMP threads slow down many-fold when another process holds a
        core; the setting is restored afterwards); callback ``(step, done, total)``.

    Returns
    -------
    TextBundle
        The model with its card (``bundle.card``) and report (``bundle.report_html``).
    """
    if model not in MODELS:
        raise InvalidInputError(f"model {model!r} is unknown; use one of {list(MODELS)}")
    _check_lang(lang)
    if model == "transformer" and pretrained is None:
        raise InvalidInputError(
            "model 'transformer' needs pretrained=: a local model folder or a cached hub id"
        )
    if not 0.05 <= test_size <= 0.5 or not 0.05 <= val_size <= 0.5 or test_size + val_size >= 0.8:
        raise InvalidInputError(
            f"test_size={test_size} and val_size={val_size}; each must be in [0.05, 0.5] and "
            "together below 0.8"
        )
    d = DEFAULTS[model]
    epochs = d["epochs"] if epochs is None else epochs
    batch_size = d["batch_size"] if batch_size is None else batch_size
    lr = d["lr"] if lr is None else lr
    max_len = d["max_len"] if max_len is None else max_len
    if model != "tfidf" and (
        epochs < 1 or batch_size < 1 or lr <= 0 or max_len < 1 or patience < 1
    ):
        raise InvalidInputError(
            "epochs >= 1, batch_size >= 1, lr > 0, max_len >= 1 and patience >= 1 are required"
        )
    if n_boot < 0 or examples < 0:
        raise InvalidInputError("n_boot and examples must be >= 0")

    df, source = _frame(data)
    _need_columns(df, text=text, label=label, group=group)
    texts = _check_texts(df[text].tolist(), text)
    labels = _labels(df[label], label)
    classes = _check_counts(labels, label)
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    groups = None
    if group is not None:
        gcol = df[group]
        if gcol.isna().any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(gcol.isna().to_numpy())[:10])
            raise SchemaError(f"group column {group!r} is empty in rows {rows} (1-based)")
        groups = gcol.astype(str).to_numpy()
    langs = _langs(texts, lang)
    k = len(classes)
    idx = _split(y, groups, test_size, val_size, seed)
    for part in ("train", "test"):
        missing = [classes[c] for c in range(k) if not (y[idx[part]] == c).any()]
        if missing:
            raise InvalidInputError(
                f"the {part} split has no notes labelled {missing}; add notes, or try another "
                "seed or test_size"
            )

    card: dict[str, Any] = base_card("text", "binary" if k == 2 else "multiclass", seed=seed)
    card["input"] = {"text_column": text, "lang": lang, "max_len": max_len,
                     "tokenisation": _tokenisation_text(model)}  # fmt: skip
    card["output"] = {"label_column": label, "classes": classes,
                      "meaning": "class probabilities (softmax; binary: logistic)"}  # fmt: skip
    card["model"] = {"kind": model}
    start = time.perf_counter()
    history: list[dict[str, float]]
    if model == "tfidf":
        engine_t, history, info = _fit_tfidf(texts, langs, y, idx, k, seed, progress)
        bundle = TextBundle(card, engine_t)
        card["model"].update({
            "description": "TF-IDF (sublinear tf, smoothed idf, L2 rows) + logistic regression "
                           "(L2, balanced class weights)",
            "ngrams": {g: list(r) for g, r in NGRAMS.items()},
            "parameters": {"C_grid": list(C_GRID), **info},
            "selection": history,
        })  # fmt: skip
        best_val = max(h["val_auroc"] for h in history)
        n_params = int(engine_t.coef.size + engine_t.intercept.size)
    else:
        require("torch", "text")
        import torch

        torch.manual_seed(seed)
        np.random.seed(seed)
        if num_threads is None:
            num_threads = 1 if model in ("gru", "bilstm") else _default_threads()
        tr_texts = [texts[i] for i in idx["train"]]
        tr_langs = [langs[i] for i in idx["train"]]
        engine: _TorchEngine
        if model == "transformer":
            assert pretrained is not None  # checked above
            if progress:
                progress("loading the pretrained encoder", 0, 1)
            tokenizer, encoder, pinfo = _load_pretrained(pretrained)
            torch.manual_seed(seed)
            net = _build_transformer_head(encoder, k, TRANSFORMER["dropout"])
            engine = _TransformerEngine(net, tokenizer, max_len)
            card["model"].update({
                "description": f"{pinfo['name']} encoder fine-tuned, mean pooling + linear head",
                "pretrained": pinfo, "dropout": TRANSFORMER["dropout"],
                "unk_rate": _unk_rate(engine, tr_texts, tr_langs),
            })  # fmt: skip
        else:
            vocab = _rnn_vocab(tr_texts, tr_langs)
            net = _build_rnn(model, len(vocab), k, RNN["embed_dim"], RNN["hidden_size"],
                             RNN["dropout"])  # fmt: skip
            engine = _RnnEngine(net, vocab, max_len)
            card["model"].update({
                "description": ("GRU" if model == "gru" else "bidirectional LSTM")
                + " over token embeddings, mean + max pooling, linear head",
                "embed_dim": RNN["embed_dim"], "hidden_size": RNN["hidden_size"],
                "dropout": RNN["dropout"], "vocab_size": len(vocab),
            })  # fmt: skip
        bundle = TextBundle(card, engine)
        with torch_threads(num_threads):
            history, best_epoch, best_val = _fit_torch(
                engine, texts, langs, y, idx, k=k, epochs=epochs, batch_size=batch_size, lr=lr,
                patience=patience, seed=seed, max_minutes=max_minutes, progress=progress,
                transformer=model == "transformer",
            )  # fmt: skip
        params: dict[str, Any] = {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                  "patience": patience, "max_len": max_len,
                                  "loss": "cross-entropy (class weights)",
                                  "gradient_clip": CLIP, "max_minutes": max_minutes}  # fmt: skip
        if model == "transformer":
            params.update({"optimizer": "AdamW", "weight_decay": TRANSFORMER["weight_decay"],
                           "schedule": "linear warm-up (10%) then linear decay",
                           "head_lr": lr * TRANSFORMER["head_lr_factor"]})  # fmt: skip
        else:
            params["optimizer"] = "Adam"
        card["model"].update({"parameters": params, "best_epoch": best_epoch,
                              "epochs_run": len(history), "history": history})  # fmt: skip
        n_params = int(sum(p.numel() for p in net.parameters()))
        card["input"]["truncated_fraction"] = round(
            float(np.mean([len(s) >= max_len for s in engine.encode(tr_texts, tr_langs)])), 4
        )
    card["model"]["n_parameters"] = n_params
    card["model"]["train_seconds"] = round(time.perf_counter() - start, 1)

    lang_counts = {g: int(sum(1 for v in langs if v == g)) for g in LANGS}
    card["training_data"] = {
        "source": source,
        "fingerprint": fingerprint(df[[text, label]]),
        "n_notes": len(texts),
        "label_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
        "languages": lang_counts,
    }
    card["split"] = {
        "method": "by patient, stratified" if group else "stratified random",
        "group_column": group,
        **{f"n_{p}": len(v) for p, v in idx.items()},
        "seed": seed,
    }
    card["packages"] = package_versions(
        "numpy", "scipy", "scikit-learn", "torch", "transformers", "safetensors"
    )
    seen = [LANG_NAMES[g] for g in LANGS if lang_counts[g]]
    card["intended_use"] = (
        f"Research and decision support: sorting {' and '.join(seen)} clinical notes like the "
        f"training notes ({source}) into {classes}. Not a medical device; a clinician must "
        "review every output."
    )
    card["must_not_use"] = (
        "Do not use it to make or withhold a diagnosis or treatment on its own, on notes in "
        "other languages, note types, sites or periods it was not validated on (run `medai "
        "text evaluate` on local notes first), or on notes of patients it was trained on."
    )
    card["limitations"] = _limitations(card)
    test = idx["test"]
    val = _validate(bundle, [texts[i] for i in test], [langs[i] for i in test], y[test],
                    n_boot=n_boot, seed=seed, examples=examples)  # fmt: skip
    card["metrics"] = {
        "test": {m: v.to_dict() for m, v in val.metrics.items()},
        "val": {"auroc": {"estimate": best_val, "ci95": [None, None], "n": len(idx["val"])}},
    }
    card["per_class"] = val.per_class
    card["per_language"] = val.per_lang
    bundle.report_html = _report(card, val, history).to_html()
    return bundle


def _tokenisation_text(model: str) -> str:
    base = ("notes detected as Chinese when CJK ideographs are >= 20% of non-space characters; "
            "English: lower-case words and numbers; Chinese: single CJK characters plus the "
            "English words and numbers inside")  # fmt: skip
    if model == "tfidf":
        return base + "; features: word 1-2 grams (English), token 1-3 grams (Chinese)"
    if model == "transformer":
        return "the pretrained encoder's own tokenizer (word pieces); explanations use: " + base
    return base


def _unk_rate(engine: _TransformerEngine, texts: list[str], langs: list[str]) -> dict[str, float]:
    """Fraction of word pieces the pretrained tokenizer maps to its unknown token, by language."""
    unk = engine.tokenizer.unk_token_id
    out: dict[str, float] = {}
    for g in LANGS:
        mine = [t for t, v in zip(texts, langs, strict=True) if v == g][:500]
        seqs = engine.encode(mine, [g] * len(mine))
        ids = [i for s in seqs for i in s[1:-1]]
        if ids and unk is not None:
            out[g] = round(sum(1 for i in ids if i == unk) / len(ids), 4)
    return out


def _limitations(card: dict[str, Any]) -> list[str]:
    data, model = card["training_data"], card["model"]
    out = [
        f"Trained and tested on one source ({data['source']}, {data['n_notes']} notes); "
        "validate on notes from the intended site and note type before use.",
        "Bag-of-words and sequence models do not understand negation or time the way a "
        "clinician reads them; explanations show the words that moved the score, not reasons.",
    ]
    for g, n in data["languages"].items():
        if 0 < n < 50:
            out.append(f"Only {n} {LANG_NAMES[g]} notes were seen; results on them are uncertain.")
    for g, rate in model.get("unk_rate", {}).items():
        if rate > 0.05:
            out.append(
                f"The pretrained tokenizer maps {rate:.0%} of {LANG_NAMES[g]} word pieces to its "
                "unknown token: the encoder cannot read much of those notes (choose an encoder "
                "pretrained on that language)."
            )
    frac = card["input"].get("truncated_fraction")
    if frac:
        out.append(f"{frac:.0%} of training notes were cut at max_len={card['input']['max_len']} "
                   "tokens; text past that point is ignored.")  # fmt: skip
    return out


# --------------------------------------------------------------------------- validation
class _Validation:
    def __init__(self, metrics: dict[str, Estimate], per_class: list[dict[str, Any]],
                 per_lang: list[dict[str, Any]], sections: list[tuple[str, str]]) -> None:  # fmt: skip
        self.metrics, self.per_class, self.per_lang = metrics, per_class, per_lang
        self.sections = sections


def _metrics(y: np.ndarray, probs: np.ndarray, *, n_boot: int, seed: int) -> dict[str, Estimate]:
    if probs.shape[1] == 2:
        metrics = binary_metrics(y, probs[:, 1], n_boot=n_boot, seed=seed)
        metrics["accuracy"] = bootstrap(lambda t, p: accuracy(t, (p >= 0.5).astype(int)),
                                        [y, probs[:, 1]], n_boot=n_boot, seed=seed, stratify=y)  # fmt: skip
        metrics["f1"] = bootstrap(lambda t, p: macro_f1(t, (p >= 0.5).astype(int)),
                                  [y, probs[:, 1]], n_boot=n_boot, seed=seed, stratify=y)  # fmt: skip
        return metrics
    return multiclass_metrics(y, probs, n_boot=n_boot, seed=seed)


def _validate(
    bundle: TextBundle, texts: list[str], langs: list[str], y: np.ndarray, *, n_boot: int,
    seed: int, examples: int,
) -> _Validation:  # fmt: skip
    """Metrics with CIs, per-class and per-language tables, and the report sections."""
    probs = bundle.engine.probs(texts, langs)
    classes = bundle.classes
    metrics = _metrics(y, probs, n_boot=n_boot, seed=seed)
    binary = len(classes) == 2
    sections: list[tuple[str, str]] = []
    figs = (
        rp.figure_html(rp.roc_figure(y, probs[:, 1]), "ROC curve")
        if binary and 0 < y.sum() < len(y)
        else ""
    )
    figs += rp.figure_html(rp.confusion_figure(y, probs.argmax(1), classes), "confusion matrix")
    main = [m for m in ("auroc", "accuracy", "f1", "auprc") if m in metrics]
    sections.append(("Discrimination",
                     f"<p>{len(y)} held-out notes, bootstrap 95% CIs; F1 is macro-averaged"
                     f"{', AUROC macro one-vs-rest' if not binary else ''}.</p>"
                     + rp.metrics_table({m: metrics[m] for m in main}) + figs))  # fmt: skip
    if binary:
        cal = ("brier", "calibration_slope", "calibration_intercept", "ece")
        body = rp.metrics_table({m: metrics[m] for m in cal})
        if 0 < y.sum() < len(y):
            body += rp.figure_html(rp.calibration_figure(y, probs[:, 1]), "calibration curve")
        sections.append(("Calibration", body))
        thr = ("sensitivity", "specificity", "ppv", "npv")
        usefulness = (f"<p>At probability 0.5 for {rp.html.escape(repr(classes[1]))}:</p>"
                      + rp.metrics_table({m: metrics[m] for m in thr}))  # fmt: skip
        if 0 < y.sum() < len(y):
            usefulness += rp.figure_html(rp.decision_curve_figure(y, probs[:, 1]), "decision curve")
        sections.append(("Clinical usefulness", usefulness))
    else:
        hit = (probs.argmax(1) == y).astype(int)
        body = ("<p>Calibration of the top-class confidence:</p>"
                + rp.figure_html(rp.calibration_figure(hit, probs.max(1)), "calibration curve")
                if 0 < hit.sum() < len(hit) else "<p>Not plotted: every prediction is right "
                "(or every one wrong).</p>")  # fmt: skip
        sections.append(("Calibration", body))
        sections.append(("Clinical usefulness", "<p>See the per-class table under Subgroups.</p>"))
    sections.append(("Explanations", _explanations_html(bundle, texts, y, probs, examples)))
    per_class = _per_class(y, probs, classes)
    per_lang = _per_lang(y, probs, langs)
    sections.append(("Subgroups", "<p>Per class (one-vs-rest) on the held-out notes:</p>"
                     + rp.table_html(per_class) + "<p>Per language:</p>"
                     + rp.table_html(per_lang)))  # fmt: skip
    return _Validation(metrics, per_class, per_lang, sections)


def _per_class(y: np.ndarray, probs: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    pred = probs.argmax(1)
    rows = []
    for j, c in enumerate(classes):
        t = y == j
        rows.append({
            "class": c, "n": int(t.sum()),
            "auroc": auroc(t.astype(int), probs[:, j]) if 0 < t.sum() < len(t) else None,
            "sensitivity": float((pred[t] == j).mean()) if t.sum() else None,
            "ppv": float((y[pred == j] == j).mean()) if (pred == j).sum() else None,
        })  # fmt: skip
    return rows


def _per_lang(y: np.ndarray, probs: np.ndarray, langs: list[str]) -> list[dict[str, Any]]:
    rows = []
    la = np.array(langs)
    for g in LANGS:
        m = la == g
        if not m.any():
            continue
        yy, pp = y[m], probs[m]
        auc = _val_metric(yy, pp) if len(set(yy.tolist())) > 1 else math.nan
        rows.append({"language": LANG_NAMES[g], "n": int(m.sum()),
                     "auroc": None if math.isnan(auc) else auc,
                     "accuracy": float((pp.argmax(1) == yy).mean()),
                     "f1": macro_f1(yy, pp.argmax(1))})  # fmt: skip
    return rows


def _explanations_html(
    bundle: TextBundle, texts: list[str], y: np.ndarray, probs: np.ndarray, examples: int
) -> str:
    intro = (f"<p>Method: {rp.html.escape(bundle.engine.method)}. Green words pushed the score "
             "towards the predicted label, red away from it.</p>")  # fmt: skip
    if hasattr(bundle.engine, "top_features"):
        rows = []
        for j, c in enumerate(bundle.classes):
            if len(bundle.classes) == 2 and j == 0:
                continue
            for f, w in bundle.engine.top_features(j, 10):
                rows.append({"class": c, "n-gram": f, "weight": w})
        intro += "<p>Largest coefficients (towards each class):</p>" + rp.table_html(rows)
    if examples == 0:
        return intro + "<p>Example notes are left out (examples=0).</p>"
    wrong = probs.argmax(1) != y
    order = np.argsort(-probs.max(1), kind="stable")
    pick = [int(i) for i in order if wrong[i]][: examples // 2]
    pick += [int(i) for i in order if not wrong[i]][: examples - len(pick)]
    exps = bundle.explain([texts[i] for i in pick], top=8)
    body = "".join(
        f"<p class='muted'>true label: <b>{rp.html.escape(bundle.classes[int(y[i])])}</b>"
        f"{' (misclassified)' if wrong[i] else ''}</p>{e.to_html()}"
        for i, e in zip(pick, exps, strict=True)
    )
    return (intro + f"<p>{len(pick)} held-out notes ({int(wrong.sum())} of {len(y)} are "
            "misclassified; up to half of the examples are misclassified ones):</p>" + body)  # fmt: skip


def _report(card: dict[str, Any], val: _Validation, history: list[dict[str, float]]) -> rp.Report:
    data, split, model, inp = card["training_data"], card["split"], card["model"], card["input"]
    classes = card["output"]["classes"]
    report = rp.Report(f"Validation report — note classifier ({', '.join(classes)})",
                       subtitle=f"medai text · {model['kind']} · trained {card['created']}")  # fmt: skip
    rows = [{"item": k, "value": v} for k, v in (
        ("source", data["source"]), ("notes", data["n_notes"]),
        ("fingerprint (sha256)", data["fingerprint"][:16] + "…"),
    )]  # fmt: skip
    langs = [{"language": LANG_NAMES[g], "notes": n} for g, n in data["languages"].items()]
    counts = [{"label": c, "notes": n} for c, n in data["label_counts"].items()]
    report.add("Data source and size", rp.table_html(rows) + rp.table_html(langs)
               + rp.table_html(counts))  # fmt: skip
    report.add("Outcome", f"<p>Label column {rp.html.escape(repr(card['output']['label_column']))}"
               f" ({card['task']}): {rp.html.escape(str(classes))}. Output: "
               f"{card['output']['meaning']}.</p>")  # fmt: skip
    report.add("Predictors", f"<p>Text column {rp.html.escape(repr(inp['text_column']))}; "
               f"language {inp['lang'] or 'detected per note'}; "
               f"{rp.html.escape(inp['tokenisation'])}.</p>")  # fmt: skip
    report.add("Missing data", "<p>Notes with an empty or missing text or label are refused "
               "(with their row numbers), not dropped silently; none were present.</p>")  # fmt: skip
    report.add("Split and validation",
               rp.table_html([{"item": k, "value": v} for k, v in split.items()])
               + "<p>Validation part: model selection and early stopping; test part: this "
               "report.</p>")  # fmt: skip
    desc = (f"<p>{rp.html.escape(model['description'])} ({model['n_parameters']:,} parameters); "
            f"trained in {model['train_seconds']} s.</p>")  # fmt: skip
    if model["kind"] == "tfidf":
        desc += "<p>Choice of C on the validation part:</p>" + rp.table_html(model["selection"])
    else:
        desc += (f"<p>Best epoch {model['best_epoch']} of {model['epochs_run']} run.</p>"
                 + rp.figure_html(rp.curves_figure(history), "training curves"))  # fmt: skip
    report.add("Model", desc)
    params = model["parameters"]
    report.add("Hyperparameters", rp.table_html(
        [{"parameter": k, "value": str(v) if isinstance(v, list) else v} for k, v in params.items()]))  # fmt: skip
    for t, body in val.sections:
        report.add(t, body)
    report.add("Intended use and limitations", rp.limitations_html(card))
    return report


def evaluate(
    bundle: TextBundle,
    data: Any,
    *,
    text: str | None = None,
    label: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    examples: int = 6,
) -> tuple[dict[str, Estimate], rp.Report]:
    """External validation of a note classifier on new labelled notes.

    Parameters
    ----------
    bundle
        A trained :class:`~medai.text.model.TextBundle`.
    data
        DataFrame or CSV/TSV/Parquet/JSONL file with a text and a label column.
    text, label
        Column names (default: those the model was trained with).
    n_boot, seed, examples
        Bootstrap resamples; seed; explained notes shown in the report.

    Returns
    -------
    metrics, report
        Metrics with 95% CIs (as in ``card["metrics"]["test"]``) and the HTML report.
    """
    text = text or bundle.text_column
    label = label or bundle.label_column
    df, source = _frame(data)
    _need_columns(df, text=text, label=label)
    texts = _check_texts(df[text].tolist(), text)
    labels = _labels(df[label], label)
    unknown = sorted(set(labels) - set(bundle.classes))
    if unknown:
        rows = [i + 1 for i, v in enumerate(labels) if v in unknown][:10]
        raise SchemaError(
            f"label column {label!r} has labels the model does not know: {unknown} (rows "
            f"{rows}, 1-based); the model's labels are {bundle.classes}"
        )
    y = np.array([bundle.classes.index(v) for v in labels], dtype=np.int64)
    langs = _langs(texts, bundle.lang)
    val = _validate(bundle, texts, langs, y, n_boot=n_boot, seed=seed, examples=examples)
    report = rp.Report(f"External validation — note classifier ({', '.join(bundle.classes)})",
                       subtitle=f"data: {source}, {len(y)} notes; model: {bundle.kind}")  # fmt: skip
    lang_rows = [{"language": LANG_NAMES[g], "notes": sum(1 for v in langs if v == g)}
                 for g in LANGS]  # fmt: skip
    counts = [{"label": c, "notes": int((y == i).sum())} for i, c in enumerate(bundle.classes)]
    report.add("Data source and size", rp.table_html(lang_rows) + rp.table_html(counts))
    for t, body in val.sections:
        report.add(t, body)
    return val.metrics, report
