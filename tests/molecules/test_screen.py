"""medai.molecules.screen and `medai mol screen` end to end."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import Crippen, rdFingerprintGenerator

from medai.cli.main import main
from medai.core.errors import InvalidInputError, SchemaError
from medai.molecules.screen import (
    FingerprintIndex,
    pack_fingerprints,
    popcount,
    score_file,
    screen_file,
    tanimoto,
)

from .conftest import ESOL

INLINE = [
    "CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "CC(=O)Nc1ccc(O)cc1", "OCC", "c1ccccc1", "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1",
    "CCN(CC)CC", "OC(=O)c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)OC", "C1CCCCC1", "CCCCCCCC",
    "c1ccc2ccccc2c1", "O=C(O)CCC(=O)O",
]  # fmt: skip
QUERY = "CC(=O)Oc1ccccc1C(=O)O"


@pytest.fixture(scope="module")
def library() -> list[str]:
    """ESOL SMILES when the shared data is there (1,128 molecules), else the inline set."""
    if ESOL.exists():
        return [str(s) for s in pd.read_csv(ESOL)["smiles"]]
    return list(INLINE)


def _write_csv(path: Path, smiles: list[str], extra: dict[int, str] | None = None) -> Path:
    """CSV with columns compound_id, smiles; ``extra`` replaces the SMILES of some rows."""
    rows = [(f"m{i + 1}", (extra or {}).get(i + 1, s)) for i, s in enumerate(smiles)]
    pd.DataFrame(rows, columns=["compound_id", "smiles"]).to_csv(path, index=False)
    return path


def test_tanimoto_equals_rdkit(library: list[str]) -> None:
    mols = [Chem.MolFromSmiles(s) for s in library]
    packed = pack_fingerprints(mols)
    assert packed.shape == (len(mols), 32) and packed.dtype == np.uint64
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(m) for m in mols]
    assert popcount(packed).tolist() == [fp.GetNumOnBits() for fp in fps]
    streamed = FingerprintIndex.from_smiles(library)  # packed per 1024-row block
    np.testing.assert_array_equal(streamed.fps, packed)
    for q in (0, 7, len(mols) - 1):
        ref = np.array(DataStructs.BulkTanimotoSimilarity(fps[q], fps))
        got = tanimoto(packed[q], packed, chunk=100)
        assert got.dtype == np.float32 and got.shape == (len(mols),)
        np.testing.assert_allclose(got, ref, atol=1e-6)
        with_counts = tanimoto(packed[q], packed, library_counts=popcount(packed))
        np.testing.assert_array_equal(with_counts, got)
    empty = np.zeros(32, np.uint64)
    assert tanimoto(empty, np.zeros((2, 32), np.uint64)).tolist() == [0.0, 0.0]  # as RDKit
    with pytest.raises(InvalidInputError, match="uint64"):
        tanimoto(packed[0].astype(np.int64), packed)


def test_search_top_k_and_threshold(library: list[str]) -> None:
    index = FingerprintIndex.from_smiles(library, batch_size=300)
    assert len(index) == len(library) and not index.rejected
    hits = index.search(QUERY, k=5)
    assert list(hits.columns) == ["query", "rank", "id", "smiles", "similarity", "row"]
    assert hits["rank"].tolist() == [1, 2, 3, 4, 5]
    sims = hits["similarity"].to_numpy()
    assert np.all(np.diff(sims) <= 0)
    everything = tanimoto(pack_fingerprints([Chem.MolFromSmiles(QUERY)])[0], index.fps)
    assert sims[0] == everything.max()
    assert sims[-1] == np.sort(everything)[::-1][4]
    picked = hits["row"].to_numpy() - 1
    np.testing.assert_array_equal(everything[picked], sims)
    # threshold only: every hit at or above it, and nothing else
    above = index.search({"aspirin": QUERY}, k=None, threshold=0.3)
    assert set(above["query"]) == {"aspirin"}
    assert len(above) == int((everything >= np.float32(0.3)).sum())
    assert (above["similarity"] >= 0.3).all()
    both = index.search(QUERY, k=2, threshold=0.99)
    assert len(both) <= 2 and (both["similarity"] >= 0.99).all()
    # several queries, as molecules
    two = index.search([Chem.MolFromSmiles("OCC"), "c1ccccc1"], k=3)
    assert two.groupby("query").size().tolist() == [3, 3]
    with pytest.raises(InvalidInputError, match="'C1CC'"):
        index.search(["OCC", "C1CC"])
    with pytest.raises(InvalidInputError, match="k"):
        index.search(QUERY, k=0)


def test_ties_broken_by_row() -> None:
    index = FingerprintIndex.from_smiles(["OCC", "CCO", "c1ccccc1", "C(O)C"], batch_size=1)
    hits = index.search("OCC", k=3)
    assert hits["row"].tolist() == [1, 2, 4]
    assert hits["similarity"].tolist() == [1.0, 1.0, 1.0]


def test_streaming_equals_in_memory(tmp_path: Path, library: list[str]) -> None:
    path = _write_csv(tmp_path / "lib.csv", library)
    index = FingerprintIndex.from_smiles(library, ids=[f"m{i + 1}" for i in range(len(library))])
    queries = {"aspirin": QUERY, "phenol": "Oc1ccccc1"}
    expected = index.search(queries, k=7)
    small = screen_file(path, queries, k=7, batch_size=37, processes=1)
    pd.testing.assert_frame_equal(small.hits, expected)
    assert small.n_rows == small.n_screened == len(library) and not small.rejected
    hits = screen_file(path, queries, k=None, threshold=0.25, batch_size=50, processes=1).hits
    pd.testing.assert_frame_equal(hits, index.search(queries, k=None, threshold=0.25))
    # the same from a gzipped .smi file
    smi = tmp_path / "lib.smi.gz"
    lines = "".join(f"{s} m{i + 1}\n" for i, s in enumerate(library))
    smi.write_bytes(gzip.compress(lines.encode()))
    pd.testing.assert_frame_equal(screen_file(smi, queries, k=7, batch_size=100).hits, expected)


def test_two_processes_equal_one(tmp_path: Path, library: list[str]) -> None:
    path = _write_csv(tmp_path / "lib.csv", library[:400], extra={3: "C1CC"})
    one = screen_file(path, QUERY, k=10, batch_size=90, processes=1)
    two = screen_file(path, QUERY, k=10, batch_size=90, processes=2)
    pd.testing.assert_frame_equal(one.hits, two.hits)
    assert one.rejected == two.rejected and [r.row for r in two.rejected] == [3]
    built = FingerprintIndex.from_file(path, batch_size=90, processes=2)
    assert len(built) == min(400, len(library)) - 1 and built.ids[0] == "m1"


def test_rejections_have_row_numbers(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "lib.csv", INLINE, extra={2: "C1CC", 5: "", 9: "C(C)(C)(C)(C)C"})
    result = screen_file(path, QUERY, k=3, batch_size=4, processes=1)
    assert [(r.row, r.id) for r in result.rejected] == [(2, "m2"), (5, "m5"), (9, "m9")]
    reasons = [r.reason for r in result.rejected]
    assert reasons[0].startswith("invalid SMILES") and reasons[1] == "empty SMILES"
    assert reasons[2].startswith("sanitisation failed")
    assert result.n_rows == len(INLINE) and result.n_screened == len(INLINE) - 3
    assert result.hits["id"].iloc[0] == "m1"  # aspirin itself
    index = FingerprintIndex.from_smiles(["OCC", "xyz", "CCN"])
    assert [r.row for r in index.rejected] == [2] and index.rows.tolist() == [1, 3]


def test_bad_inputs(tmp_path: Path) -> None:
    path = tmp_path / "lib.csv"
    pd.DataFrame({"name": ["a"], "structure_text": ["CCO"]}).to_csv(path, index=False)
    with pytest.raises(SchemaError, match="structure_text"):
        screen_file(path, QUERY)
    ok = screen_file(path, QUERY, smiles_col="structure_text", processes=1)
    assert ok.hits["id"].tolist() == ["a"]
    with pytest.raises(InvalidInputError, match="threshold"):
        screen_file(path, QUERY, threshold=1.5)
    with pytest.raises(InvalidInputError, match="'CC\\(C'"):
        screen_file(path, "CC(C", smiles_col="structure_text")


def test_index_save_load_round_trip(tmp_path: Path) -> None:
    index = FingerprintIndex.from_smiles(INLINE, ids=[f"id-{i}" for i in range(len(INLINE))])
    path = index.save(tmp_path / "index.npz")
    with np.load(path, allow_pickle=False) as data:
        assert data["fps"].dtype == np.uint64
    loaded = FingerprintIndex.load(path)
    np.testing.assert_array_equal(loaded.fps, index.fps)
    assert loaded.ids == index.ids and loaded.smiles == index.smiles
    assert (loaded.radius, loaded.n_bits) == (2, 2048)
    pd.testing.assert_frame_equal(loaded.search(QUERY, k=4), index.search(QUERY, k=4))
    small = FingerprintIndex.from_smiles(INLINE, radius=1, n_bits=512)
    assert FingerprintIndex.load(small.save(tmp_path / "s.npz")).fps.shape == (len(INLINE), 8)


def test_score_file_streams_a_real_predictor(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "lib.csv", INLINE, extra={4: "C1CC"})

    def logp(smiles: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"logp": [Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in smiles]})

    out = tmp_path / "scores.csv"
    result = score_file(path, logp, out_path=out, batch_size=5)
    assert result.n_rows == len(INLINE) and result.n_scored == len(INLINE) - 1
    assert [r.row for r in result.rejected] == [4]
    table = pd.read_csv(out)
    assert list(table.columns) == ["row", "id", "smiles", "logp"]
    assert 4 not in table["row"].tolist() and len(table) == len(INLINE) - 1
    expected = [Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in table["smiles"]]
    np.testing.assert_allclose(table["logp"], expected)
    assert not list(tmp_path.glob(".*.tmp"))

    def broken(smiles: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"p": [0.0]})

    with pytest.raises(InvalidInputError, match="one row per SMILES"):
        score_file(path, broken, out_path=tmp_path / "bad.csv", batch_size=5)
    assert not (tmp_path / "bad.csv").exists() and not list(tmp_path.glob(".*.tmp"))


def test_cli_screen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = _write_csv(tmp_path / "lib.csv", INLINE, extra={6: "C1CC"})
    qfile = tmp_path / "q.smi"
    qfile.write_text("Oc1ccccc1 phenol\n")
    out = tmp_path / "hits.csv"
    argv = ["mol", "screen", str(lib), "--query", QUERY, "--queries", str(qfile), "--k", "3",
            "--threshold", "0.1", "--processes", "1", "--batch-size", "5", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    hits = pd.read_csv(out)
    assert set(hits["query"]) == {QUERY, "phenol"} and len(hits) == 6
    assert hits["id"].iloc[0] == "m1" and hits["similarity"].iloc[0] == 1.0
    err = capsys.readouterr().err
    assert "row 6 (id m6)" in err and "1 rows rejected" in err
    bad = ["mol", "screen", str(lib), "--query", "C1CC(", "--out", str(tmp_path / "b.csv")]
    assert main(bad) == 2
    assert "'C1CC('" in capsys.readouterr().err and not (tmp_path / "b.csv").exists()
    nocol = ["mol", "screen", str(lib), "-q", "CCO", "--smiles-col", "smi", "--out", str(out)]
    assert main(nocol) == 2
    assert "compound_id" in capsys.readouterr().err
