"""DICOM de-identification on the files pydicom ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402

from medai.privacy.dicom import deidentify_path  # noqa: E402
from medai.privacy.surrogate import Surrogates  # noqa: E402

KEY = "dicom-test-key-0123456789"


def test_basic_profile_on_ct_and_mr(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (src / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    (src / "notes.txt").write_text("not a DICOM file")
    out = tmp_path / "out"
    r = deidentify_path(src, out, key=KEY)
    assert r.n_done == 2 and len(r.errors) == 1 and "notes.txt" in r.errors[0][0]
    assert any("BurnedInAnnotation" in w for _, w in r.warnings)
    for name in ("CT_small.dcm", "MR_small.dcm"):
        before, after = pydicom.dcmread(src / name), pydicom.dcmread(out / name)
        assert after.PatientIdentityRemoved == "YES"
        assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert str(after.PatientName).startswith("ANON") and after.PatientID.startswith("ANON")
        assert ("InstitutionName" not in after and "ReferringPhysicianName" not in after) or \
            after.ReferringPhysicianName == ""  # fmt: skip
        assert not any(e.tag.is_private for e in after)
        assert after.SOPClassUID == before.SOPClassUID  # DICOM's own UIDs stay
        assert after.SOPInstanceUID != before.SOPInstanceUID
        assert after.SOPInstanceUID.startswith("2.25.")
        assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
        np.testing.assert_array_equal(after.pixel_array, before.pixel_array)
        # dates move back by the patient's offset, the same as in the patient's notes
        days = Surrogates(KEY).date_offset(str(before.PatientID))
        import datetime as dt

        moved = dt.datetime.strptime(after.StudyDate, "%Y%m%d")
        assert (dt.datetime.strptime(before.StudyDate, "%Y%m%d") - moved).days == days
    # UIDs are consistent: the same input UID gives the same output in another run
    again = tmp_path / "again.dcm"
    deidentify_path(src / "CT_small.dcm", again, key=KEY)
    assert (
        pydicom.dcmread(again).StudyInstanceUID
        == pydicom.dcmread(out / "CT_small.dcm").StudyInstanceUID
    )


def test_non_dicom_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.dcm"
    bad.write_bytes(b"\x00" * 300)
    r = deidentify_path(bad, tmp_path / "y.dcm", key=KEY)
    assert r.n_done == 0 and r.errors and not (tmp_path / "y.dcm").exists()
