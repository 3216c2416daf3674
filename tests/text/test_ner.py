"""Tests of medai.text.ner (readers, CRF, windows, metrics, training, bundle) and its CLI.

Training runs on small seeded synthetic Chinese clinical sentences (nested ``sym`` over ``bod``
as in CMeEE), so nothing here needs the shared data; the CMeEE reader is also checked on the
real files in ``../shared/data`` when they are present.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medai.core.errors import BundleError, DataFileError, InvalidInputError
from medai.text.ner import (
    Entity,
    NerBundle,
    NerExample,
    crf_forward_backward,
    crf_log_partition,
    crf_score,
    crf_viterbi,
    detect_format,
    evaluate_ner,
    load_ner_data,
    ner_metrics,
    read_bio,
    read_cmeee,
    read_ner_jsonl,
    read_texts,
    split_windows,
    train_ner,
)
from tests.conftest import SHARED_DATA

torch = pytest.importorskip("torch")

CMEEE = SHARED_DATA / "text" / "zh_ner" / "cmeee_chip2020"

# --- synthetic data ----------------------------------------------------------------------------
BODS = ["左肺", "右肾", "腹部", "头部", "胸部", "肝脏", "双下肢", "右上腹", "颈部", "腰背部"]
SYMS = ["疼痛", "肿胀", "出血", "不适", "麻木", "压痛"]
DISES = ["肺炎", "糖尿病", "高血压", "胃溃疡", "心肌梗死", "支气管哮喘", "肾结石", "肝硬化"]
DRUS = ["阿司匹林", "青霉素", "胰岛素", "布洛芬", "二甲双胍", "头孢曲松"]
DAYS = ["三天", "两周", "一月", "5天", "10余年", "半年"]


def _sentence(rng: np.random.Generator) -> NerExample:
    """One sentence from a template; ``sym`` spans contain their ``bod`` (nested)."""
    parts: list[tuple[str, str | None]] = []
    bod, sym, dis, dru = (str(rng.choice(x)) for x in (BODS, SYMS, DISES, DRUS))
    day = str(rng.choice(DAYS))
    k = int(rng.integers(4))
    if k == 0:
        parts = [
            ("患者", None),
            (bod + sym, "sym"),
            (day + "，诊断为", None),
            (dis, "dis"),
            ("。", None),
        ]
    elif k == 1:
        parts = [("给予", None), (dru, "dru"), ("治疗", None), (dis, "dis"), ("，效果良好。", None)]
    elif k == 2:
        parts = [
            ("既往", None),
            (dis, "dis"),
            ("病史，否认", None),
            (bod + sym, "sym"),
            ("。", None),
        ]
    else:
        parts = [("查体：", None), (bod, "bod"), ("无", None), (sym, "sym"), ("，予", None),
                 (dru, "dru"), ("口服。", None)]  # fmt: skip
    text, ents, pos = "", [], 0
    for chunk, label in parts:
        if label is not None:
            ents.append(Entity(pos, pos + len(chunk), label, chunk))
            if label == "sym" and chunk.startswith(bod) and len(chunk) > len(bod):
                ents.append(Entity(pos, pos + len(bod), "bod", bod))
        text += chunk
        pos += len(chunk)
    return NerExample(text, sorted(ents, key=lambda e: (e.start, -e.end, e.label)))


def synthetic(n: int, seed: int) -> list[NerExample]:
    rng = np.random.default_rng(seed)
    return [_sentence(rng) for _ in range(n)]


def to_cmeee(examples: list[NerExample]) -> str:
    lines = []
    for ex in examples:
        fields = "".join(f"{e.start}    {e.end - 1}    {e.label}|||" for e in ex.entities)
        lines.append(f"{ex.text}|||{fields}")
    return "\r\n".join(lines) + "\r\n"


FAST: dict[str, Any] = {"epochs": 3, "hidden": 32, "emb_dim": 32, "bigram_dim": 16,
                        "batch_size": 16, "lr": 1e-2, "n_boot": 50, "num_threads": 1}  # fmt: skip


@pytest.fixture(scope="module")
def bundle() -> NerBundle:
    return train_ner(synthetic(300, 0), synthetic(60, 1), seed=0, **FAST)


@pytest.fixture(scope="module")
def bundle_dir(bundle: NerBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle.save(tmp_path_factory.mktemp("ner") / "bundle")


# --- readers -----------------------------------------------------------------------------------
def test_read_cmeee_offsets_nesting_crlf_and_duplicates(tmp_path: Path) -> None:
    f = tmp_path / "d.txt"
    f.write_bytes(
        "患者左肺疼痛三天。|||2    5    sym|||2    3    bod|||2    3    bod|||\r\n"
        "\r\n"
        "无实体的句子\r\n"
        "头孢曲松静滴|||0 3 dru\r\n".encode()
    )
    exs = read_cmeee(f)
    assert [ex.text for ex in exs] == ["患者左肺疼痛三天。", "无实体的句子", "头孢曲松静滴"]
    assert exs[0].entities == [Entity(2, 6, "sym", "左肺疼痛"), Entity(2, 4, "bod", "左肺")]
    assert exs[1].entities == []
    assert exs[2].entities == [Entity(0, 4, "dru", "头孢曲松")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("患者左肺疼痛|||2    9    sym|||", "line 2: entity '2    9    sym' is out of range"),
        ("患者左肺疼痛|||4    3    sym|||", "line 2: entity '4    3    sym' ends before it starts"),
        ("患者左肺疼痛|||2    x    sym|||", "line 2: entity field '2    x    sym' is not"),
        ("患者左肺疼痛|||2    5|||", "line 2: entity field '2    5' is not"),
    ],
)
def test_read_cmeee_bad_entities(tmp_path: Path, line: str, message: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("好句子|||0 1 sym|||\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=message) as exc:
        read_cmeee(f)
    assert str(f) in str(exc.value)


def test_read_cmeee_skip_bad_entities(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("患者左肺疼痛|||4    3    sym|||2    3    bod|||\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="errors='skip'"):
        read_cmeee(f)
    skipped: list[str] = []
    exs = read_cmeee(f, errors="skip", skipped=skipped)
    assert exs[0].entities == [Entity(2, 4, "bod", "左肺")]
    assert len(skipped) == 1 and "line 1" in skipped[0]


def test_read_empty_undecodable_and_gb18030(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataFileError, match="is empty"):
        read_cmeee(empty)
    with pytest.raises(DataFileError, match="does not exist"):
        read_cmeee(tmp_path / "missing.txt")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"abc|||0 1 dis\n\xff\xff\xff\n")
    with pytest.raises(DataFileError, match=r"not UTF-8 \(undecodable byte at line 2"):
        read_cmeee(binary)
    gb = tmp_path / "gb.txt"
    gb.write_bytes("患者左肺疼痛|||2    5    sym|||\n".encode("gb18030"))
    assert read_cmeee(gb)[0].entities == [Entity(2, 6, "sym", "左肺疼痛")]


def test_read_bio_and_bioes(tmp_path: Path) -> None:
    f = tmp_path / "d.bio"
    f.write_text(
        "-DOCSTART- O\n\n患\tO\n者\tO\n左\tB-bod\n肺\tI-bod\n \tO\n咳 O\n嗽 B-sym\n\n"
        "阿 B-dru\n司 M-dru\n匹 M-dru\n林 E-dru\n和 O\n痰 S-sym\n",
        encoding="utf-8",
    )
    exs = read_bio(f)
    assert [ex.text for ex in exs] == ["患者左肺 咳嗽", "阿司匹林和痰"]
    assert exs[0].entities == [Entity(2, 4, "bod", "左肺"), Entity(6, 7, "sym", "嗽")]
    assert exs[1].entities == [Entity(0, 4, "dru", "阿司匹林"), Entity(5, 6, "sym", "痰")]


def test_read_bio_errors(tmp_path: Path) -> None:
    f = tmp_path / "d.bio"
    f.write_text("患 O\n者 O\n\n左 O\n肺 I-bod\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"line 5: tag 'I-bod' follows O or the start"):
        read_bio(f)
    skipped: list[str] = []
    exs = read_bio(f, errors="skip", skipped=skipped)
    assert exs[1].entities == [Entity(1, 2, "bod", "肺")] and len(skipped) == 1
    f.write_text("左 B-bod\n肺 I-sym\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2: tag 'I-sym' follows an entity of type 'bod'"):
        read_bio(f)
    f.write_text("左 B-bod\n肺 X-bod\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2: unknown tag 'X-bod'"):
        read_bio(f)
    f.write_text("左肺\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="line 1: expected 'TOKEN TAG'"):
        read_bio(f)


def test_read_jsonl(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    rows = [
        {"text": "患者左肺疼痛", "entities": [{"start": 2, "end": 6, "label": "sym"},
                                               {"start": 2, "end": 4, "type": "bod", "text": "左肺"}]},
        {"text": "无", "entities": []},
    ]  # fmt: skip
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    exs = read_ner_jsonl(f)
    assert exs[0].entities == [Entity(2, 6, "sym", "左肺疼痛"), Entity(2, 4, "bod", "左肺")]
    bad = {"text": "患者左肺", "entities": [{"start": 2, "end": 4, "label": "bod", "text": "者左"}]}
    f.write_text(json.dumps(rows[1]) + "\n" + json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"line 2: entity 0 .* 'text' that differs"):
        read_ner_jsonl(f)
    f.write_text('{"text": "a", "entities": [{"start": 0, "end": 2, "label": "x"}]}\n')
    with pytest.raises(DataFileError, match=r"line 1: entity 0 .* is out of range"):
        read_ner_jsonl(f)
    f.write_text('{"text": "a"}\n{"text": "b", \n')
    with pytest.raises(DataFileError, match="line 2: not valid JSON"):
        read_ner_jsonl(f)
    f.write_text('{"text": "ab", "entities": [{"start": "0", "end": 1, "label": "x"}]}\n')
    with pytest.raises(DataFileError, match="integer 'start'"):
        read_ner_jsonl(f)


def test_load_ner_data_detects_format(tmp_path: Path) -> None:
    exs = synthetic(5, 3)
    (tmp_path / "a.txt").write_text(to_cmeee(exs), encoding="utf-8")
    (tmp_path / "b.txt").write_text("左 B-bod\n肺 I-bod\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text('{"text": "左肺", "entities": []}\n', encoding="utf-8")
    (tmp_path / "d.txt").write_text("just some text\n", encoding="utf-8")
    assert [detect_format(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt")] == [
        "cmeee", "bio", "jsonl"
    ]  # fmt: skip
    assert load_ner_data(tmp_path / "a.txt") == exs
    assert load_ner_data(tmp_path / "b.txt", "bio")[0].entities == [Entity(0, 2, "bod", "左肺")]
    with pytest.raises(DataFileError, match="cannot tell the format"):
        load_ner_data(tmp_path / "d.txt")
    with pytest.raises(InvalidInputError, match="format 'xml' is unknown"):
        load_ner_data(tmp_path / "a.txt", "xml")


@pytest.mark.skipif(not CMEEE.is_dir(), reason=f"shared data {CMEEE} is absent")
def test_read_cmeee_shared_data() -> None:
    with pytest.raises(DataFileError, match=r"train_data\.txt line 6052: entity '16    15    pro'"):
        read_cmeee(CMEEE / "train_data.txt")
    skipped: list[str] = []
    train = read_cmeee(CMEEE / "train_data.txt", errors="skip", skipped=skipped)
    val = read_cmeee(CMEEE / "val_data.txt")
    assert (len(train), len(val)) == (15000, 5000)
    assert [s.split(":")[0].rsplit(" ", 1)[1] for s in skipped] == ["6052", "6422"]
    for ex in train + val:
        assert all(ex.text[e.start : e.end] == e.text and e.end > e.start for e in ex.entities)
    labels = {e.label for ex in val for e in ex.entities}
    assert labels == {"dis", "sym", "pro", "equ", "dru", "ite", "bod", "dep", "mic"}
    assert sum(len(ex.entities) for ex in val) == 20300
    nested = sum(
        1 for ex in val for a, b in itertools.permutations(ex.entities, 2)
        if a.start <= b.start and b.end <= a.end
    )  # fmt: skip
    assert nested > 1000
    assert max(len(ex.text) for ex in train) > 4000


def test_read_texts(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("第一句\n\n第二句\r\n", encoding="utf-8")
    assert read_texts(f) == [(1, "第一句", None), (3, "第二句", None)]
    j = tmp_path / "in.jsonl"
    j.write_text('{"id": "n1", "text": "甲"}\n{"text": "乙"}\n', encoding="utf-8")
    assert read_texts(j) == [(1, "甲", "n1"), (2, "乙", None)]
    j.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match="line 1: expected an object with a string 'text'"):
        read_texts(j)


# --- windows -----------------------------------------------------------------------------------
def test_split_windows() -> None:
    assert split_windows("", 10) == []
    assert split_windows("短句。", 10) == [(0, 3)]
    text = "甲乙丙。丁戊己庚。" + "子" * 25 + "，丑寅。"
    wins = split_windows(text, 10)
    assert wins[0] == (0, 9)  # two sentences packed
    assert all(e - s <= 10 for s, e in wins)
    assert [w[0] for w in wins[1:]] == [w[1] for w in wins[:-1]] and wins[-1][1] == len(text)
    with pytest.raises(InvalidInputError):
        split_windows("abc", 0)


# --- CRF against brute force -------------------------------------------------------------------
def _random_crf(seed: int) -> tuple[Any, ...]:
    g = torch.Generator().manual_seed(seed)
    b, t, h, k = 3, 5, 2, 3
    em = torch.randn(b, t, h, k, generator=g, dtype=torch.float64)
    trans = torch.randn(h, k, k, generator=g, dtype=torch.float64)
    start = torch.randn(h, k, generator=g, dtype=torch.float64)
    end = torch.randn(h, k, generator=g, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1])
    mask = torch.arange(t)[None, :] < lengths[:, None]
    return em, mask, trans, start, end, lengths


def _path_score(
    em: Any, trans: Any, start: Any, end: Any, bi: int, h: int, path: tuple[int, ...]
) -> float:
    s = float(start[h, path[0]] + em[bi, 0, h, path[0]])
    for t in range(1, len(path)):
        s += float(trans[h, path[t - 1], path[t]] + em[bi, t, h, path[t]])
    return s + float(end[h, path[-1]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crf_against_brute_force(seed: int) -> None:
    em, mask, trans, start, end, lengths = _random_crf(seed)
    log_z = crf_log_partition(em, mask, trans, start, end)
    best = crf_viterbi(em, mask, trans, start, end)
    alpha, beta, log_z2 = crf_forward_backward(em, mask, trans, start, end)
    k = em.shape[-1]
    for bi, n in enumerate(lengths.tolist()):
        for h in range(em.shape[2]):
            paths = list(itertools.product(range(k), repeat=n))
            scores = np.array([_path_score(em, trans, start, end, bi, h, p) for p in paths])
            ref_z = np.logaddexp.reduce(scores)
            assert float(log_z[bi, h]) == pytest.approx(ref_z, abs=1e-9)
            assert float(log_z2[bi, h]) == pytest.approx(ref_z, abs=1e-9)
            assert tuple(best[bi, :n, h].tolist()) == paths[int(scores.argmax())]
            # marginals P(y_t = j) from forward-backward
            probs = np.exp(scores - ref_z)
            for t in range(n):
                ref = [probs[[p[t] == j for p in paths]].sum() for j in range(k)]
                got = torch.exp(alpha[bi, t, h] + beta[bi, t, h] - log_z[bi, h]).tolist()
                assert got == pytest.approx(ref, abs=1e-9)
    tags = best.clone()
    ref_scores = [[_path_score(em, trans, start, end, bi, h, tuple(best[bi, :n, h].tolist()))
                   for h in range(2)] for bi, n in enumerate(lengths.tolist())]  # fmt: skip
    assert crf_score(em, tags, mask, trans, start, end).numpy() == pytest.approx(
        np.array(ref_scores)
    )


# --- metrics -----------------------------------------------------------------------------------
def test_ner_metrics_hand_computed() -> None:
    gold = [[(0, 2, "a"), (3, 5, "b")], [(1, 4, "a")], []]
    pred = [[(0, 2, "a"), (3, 6, "b")], [(1, 4, "a"), (5, 6, "b"), (1, 4, "a")], [(0, 1, "a")]]
    m = ner_metrics(gold, pred)  # type: ignore[arg-type]
    assert (m["tp"], m["n_pred"], m["n_gold"], m["n_sentences"]) == (2, 5, 3, 3)
    assert m["precision"] == pytest.approx(2 / 5)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    assert m["per_label"]["a"] == {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "tp": 2,
                                   "n_pred": 3, "n_gold": 2}  # fmt: skip
    assert m["per_label"]["b"]["f1"] == 0.0 and m["per_label"]["b"]["n_gold"] == 1
    empty = ner_metrics([[]], [[]])
    assert (empty["precision"], empty["recall"], empty["f1"]) == (0.0, 0.0, 0.0)
    with pytest.raises(InvalidInputError, match="must pair up"):
        ner_metrics([[]], [])


# --- training and the bundle -------------------------------------------------------------------
def test_train_learns_and_documents(bundle: NerBundle) -> None:
    card = bundle.card
    assert card["pillar"] == "text-ner" and card["lang"] == "zh"
    assert card["output"]["labels"] == ["bod", "dis", "dru", "sym"]
    assert card["metrics"]["val"]["f1"]["estimate"] > 0.6
    lo, hi = card["metrics"]["val"]["f1"]["ci95"]
    assert lo <= card["metrics"]["val"]["f1"]["estimate"] <= hi
    hist = card["model"]["history"]
    assert len(hist) == 3 and hist[-1]["loss"] < hist[0]["loss"]
    assert set(card["per_label"]["val"]) == {"bod", "dis", "dru", "sym"}
    html = bundle.report_html or ""
    assert "Discrimination" in html and "data:image/png;base64" in html
    # per-type heads output the nested bod inside sym
    ents = bundle.predict("患者左肺疼痛三天，诊断为肺炎。")[0]
    assert Entity(2, 4, "bod", "左肺") in ents and Entity(2, 6, "sym", "左肺疼痛") in ents


def test_save_load_identical(bundle: NerBundle, bundle_dir: Path) -> None:
    loaded = NerBundle.load(bundle_dir)
    texts = [ex.text for ex in synthetic(40, 7)] + ["", "ABC１２３", "腹部" * 300]
    assert loaded.predict(texts) == bundle.predict(texts)
    assert loaded.explain(texts[:5]) == bundle.explain(texts[:5])
    (bundle_dir / "vocab.json").write_text("{}")
    with pytest.raises(BundleError, match="sha256"):
        NerBundle.load(bundle_dir)


def test_deterministic_with_seed() -> None:
    data = synthetic(60, 5)
    kw = {**FAST, "epochs": 1, "n_boot": 0}
    a, b = train_ner(data, seed=3, **kw), train_ner(data, seed=3, **kw)
    sa, sb = a._tagger.net.state_dict(), b._tagger.net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.card["split"]["n_val"] == 6 and a.card["split"]["n_train"] == 54


def test_long_text_windows_map_back(bundle: NerBundle) -> None:
    # every window is one sentence here (each > max_len / 2), so tagging the joined text must
    # give each sentence's own entities shifted by its offset
    bundle._tagger.cfg["max_len"] = 16
    try:
        sents = [ex.text for ex in synthetic(200, 11) if 8 < len(ex.text) <= 16][:12]
        long = "".join(sents)
        assert len(split_windows(long, 16)) == len(sents)
        got = bundle.predict(long)[0]
        expect, off = [], 0
        for s, ents in zip(sents, bundle.predict(sents), strict=True):
            expect += [Entity(e.start + off, e.end + off, e.label, e.text) for e in ents]
            off += len(s)
        assert sorted(got) == sorted(expect) and len(got) > 10
        assert all(long[e.start : e.end] == e.text for e in got)
    finally:
        bundle._tagger.cfg["max_len"] = 256


def test_explain_scores_are_crf_marginals(bundle: NerBundle) -> None:
    text = "给予青霉素治疗"
    res = bundle.explain([text])[0]
    assert res and all(0.0 <= r["score"] <= 1.0 for r in res)
    assert [Entity(r["start"], r["end"], r["label"], r["text"]) for r in res] == bundle.predict(
        text
    )[0]
    # brute force: sum the probabilities of all tag paths of the entity's head that tag the
    # span B, I, ..., I and do not continue it
    tg = bundle._tagger
    from medai.text.ner import _make_batch

    c, b = tg.vocab.encode(text)
    batch = _make_batch([(c, b, None)], tg.n_heads)
    with torch.no_grad():
        em = tg.emissions(batch).double()
        trans, start, end = (x.double() for x in tg.crf_params())
    n = len(text)
    for r in res:
        h = tg.labels.index(r["label"])
        paths = list(itertools.product(range(3), repeat=n))
        scores = np.array([_path_score(em, trans, start, end, 0, h, p) for p in paths])
        probs = np.exp(scores - np.logaddexp.reduce(scores))
        s, e = r["start"], r["end"]
        hit = [p[s] == 1 and all(x == 2 for x in p[s + 1 : e]) and (e == n or p[e] != 2)
               for p in paths]  # fmt: skip
        assert r["score"] == pytest.approx(probs[hit].sum(), abs=1e-5)


def test_evaluate_and_inputs(bundle: NerBundle, tmp_path: Path) -> None:
    data = synthetic(50, 9)
    f = tmp_path / "test.txt"
    f.write_text(to_cmeee(data), encoding="utf-8")
    m = evaluate_ner(bundle, f, n_boot=100)
    assert m == {**evaluate_ner(bundle, data, n_boot=100), "predict_seconds": m["predict_seconds"]}
    assert m["n_gold"] == sum(len(ex.entities) for ex in data) and m["f1"] > 0.6
    assert m["ci95"]["f1"][0] <= m["f1"] <= m["ci95"]["f1"][1]
    with pytest.raises(InvalidInputError, match="expected a string"):
        bundle.predict([1])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="scheme 'nested' is unknown"):
        train_ner(data, scheme="nested")
    with pytest.raises(InvalidInputError, match="no entities"):
        train_ner([NerExample("无", [])] * 20)


@pytest.mark.parametrize("scheme", ["flat-outer", "flat-inner"])
def test_flat_schemes(scheme: str) -> None:
    b = train_ner(synthetic(120, 4), synthetic(30, 6), scheme=scheme, seed=0,
                  **{**FAST, "epochs": 2, "n_boot": 0})  # fmt: skip
    assert b.card["model"]["config"]["scheme"] == scheme
    assert b.card["training_data"]["entities_not_trained_on"]["nested_or_overlapping"] > 0
    for ents in b.predict([ex.text for ex in synthetic(30, 8)]):
        spans = sorted((e.start, e.end) for e in ents)
        assert all(a[1] <= b_[0] for a, b_ in itertools.pairwise(spans))  # flat: no overlap


# --- CLI ---------------------------------------------------------------------------------------
def _cli() -> Any:
    import typer

    from medai.cli.text_ner import register

    app = typer.Typer()
    register(app)
    return app


def test_cli_train_and_tag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    train = tmp_path / "train.txt"
    train.write_text(to_cmeee(synthetic(200, 21)), encoding="utf-8")
    val = tmp_path / "val.txt"
    val.write_text(to_cmeee(synthetic(40, 22)), encoding="utf-8")
    out = tmp_path / "bundle"
    runner = CliRunner()
    res = runner.invoke(_cli(), ["train-ner", str(train), "--out", str(out), "--val", str(val),
                                 "--epochs", "2", "--lr", "0.01", "--threads", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "f1" in res.output and (out / "card.json").is_file()
    inp = tmp_path / "notes.txt"
    inp.write_text("患者腹部疼痛两周，诊断为胃溃疡。\n\n给予胰岛素治疗糖尿病。\n", encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    res = runner.invoke(_cli(), ["ner", str(out), str(inp), "--out", str(pred)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in pred.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rows] == [1, 3]
    assert all(
        set(e) == {"start", "end", "label", "text", "score"} for r in rows for e in r["entities"]
    )
    bad = tmp_path / "bad.txt"
    bad.write_text("患者左肺|||3    1    bod|||\n", encoding="utf-8")
    res = runner.invoke(_cli(), ["train-ner", str(bad), "--out", str(tmp_path / "x")])
    assert isinstance(res.exception, DataFileError) and "line 1" in str(res.exception)
    assert not (tmp_path / "x").exists()


def test_cli_main_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medai.cli.main import app, main

    text = [g.typer_instance for g in app.registered_groups if g.name == "text"]
    commands = {c.name for t in text if t is not None for c in t.registered_commands}
    if "train-ner" not in commands:
        pytest.skip("`medai text train-ner` is not wired into medai.cli.main yet")
    bad = tmp_path / "bad.txt"
    bad.write_text("患者左肺|||3    9    bod|||\n", encoding="utf-8")
    assert main(["text", "train-ner", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "line 1" in capsys.readouterr().err
