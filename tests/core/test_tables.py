from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medai.core.errors import DataFileError, InvalidInputError
from medai.core.tables import fingerprint, read_table, write_table


def test_reads_csv_tsv_and_parquet(tmp_path: Path, breast_cancer: pd.DataFrame) -> None:
    csv, tsv, pq = tmp_path / "a.csv", tmp_path / "a.tsv", tmp_path / "a.parquet"
    breast_cancer.to_csv(csv, index=False)
    breast_cancer.to_csv(tsv, index=False, sep="\t")
    breast_cancer.to_parquet(pq, index=False)
    for path in (csv, tsv, pq):
        df = read_table(path)
        assert df.shape == breast_cancer.shape
        assert list(df.columns) == list(breast_cancer.columns)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope.csv.*does not exist"):
        read_table(tmp_path / "nope.csv")


def test_empty_and_blank_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "blank.csv").write_text("\n\n  \n")
    (tmp_path / "header.csv").write_text("a,b,c\n")
    with pytest.raises(DataFileError, match=r"empty"):
        read_table(tmp_path / "empty.csv")
    with pytest.raises(DataFileError, match=r"blank"):
        read_table(tmp_path / "blank.csv")
    with pytest.raises(DataFileError, match=r"no data rows"):
        read_table(tmp_path / "header.csv")


def test_ragged_csv_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "ragged.csv"
    p.write_text('a,b,c\n1,2,3\n4,"x, y",6\n7,8\n')
    with pytest.raises(DataFileError, match=r"line 4 has 2 fields, the header has 3"):
        read_table(p)


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "latin1.csv"
    p.write_bytes("name,age\nok,3\nJos\u00e9,4\n".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"not UTF-8.*0xe9 at line 3"):
        read_table(p)


def test_duplicate_columns_and_folders(tmp_path: Path) -> None:
    p = tmp_path / "dup.csv"
    p.write_text("a,a\n1,2\n")
    # pandas renames duplicates to a, a.1: we only refuse names that collide after stripping
    assert list(read_table(p).columns) == ["a", "a.1"]
    with pytest.raises(DataFileError, match=r"is a folder"):
        read_table(tmp_path)


def test_not_a_parquet_file(tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match=r"not a readable Parquet"):
        read_table(p)


def test_write_table_is_atomic_and_checks_suffix(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2]})
    for name in ("o.csv", "o.json", "o.parquet"):
        write_table(df, tmp_path / name)
        assert (tmp_path / name).exists()
    with pytest.raises(InvalidInputError, match=r"\.csv, \.json or \.parquet"):
        write_table(df, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.json", "o.parquet"]


def test_fingerprint_changes_with_values(breast_cancer: pd.DataFrame) -> None:
    a = fingerprint(breast_cancer)
    assert a == fingerprint(breast_cancer.copy())
    changed = breast_cancer.copy()
    changed.iloc[0, 0] += 1
    assert fingerprint(changed) != a
