"""DICOM de-identification: the PS3.15 Annex E Basic Application Level Confidentiality Profile.

With the Retain Longitudinal Temporal Information with Modified Dates option: instead of being
removed, every date (DA) and date-time (DT) moves back by the patient's offset — the same
offset :class:`~medai.privacy.surrogate.Surrogates` uses for that patient's notes, so
intervals between studies and notes are kept.

Actions (Annex E codes): ``D`` dummy value, ``Z`` zero length, ``X`` remove, ``K`` keep,
``U`` replace a UID. :data:`ACTIONS` lists the attributes of Table E.1-1 that medai handles by
name; on top of it, by value representation, every other person name (PN) is removed, every
UID (UI) outside DICOM's own (``1.2.840.10008.*``) is replaced by a consistent hashed UID
(``2.25.<int>`` from HMAC of the key and the UID, so the same study keeps one StudyInstanceUID
across files), and private tags are removed. Sequences are processed recursively. The output
gets PatientIdentityRemoved = YES, DeidentificationMethod and its code sequence (DCM 113100,
113107), and LongitudinalTemporalInformationModified = MODIFIED. A file whose
BurnedInAnnotation is YES or absent gets a warning: pixel text is not removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medai.core.errors import DataFileError, InvalidInputError, require
from medai.privacy.surrogate import Surrogates

__all__ = ["ACTIONS", "DicomResult", "deidentify_dataset", "deidentify_path"]

Progress = Callable[[str, int, int], None]

#: Attribute keyword -> Basic Profile action (PS3.15 Table E.1-1, the attributes medai names).
ACTIONS: dict[str, str] = {
    # patient
    "PatientName": "D", "PatientID": "D", "IssuerOfPatientID": "X", "PatientBirthDate": "Z",
    "PatientBirthTime": "X", "PatientSex": "K", "PatientAge": "X", "PatientSize": "X",
    "PatientWeight": "X", "PatientAddress": "X", "PatientTelephoneNumbers": "X",
    "PatientMotherBirthName": "X", "PatientBirthName": "X", "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X", "OtherPatientNames": "X", "PatientComments": "X",
    "PatientReligiousPreference": "X", "EthnicGroup": "X", "Occupation": "X",
    "MilitaryRank": "X", "BranchOfService": "X", "MedicalRecordLocator": "X",
    "PatientInsurancePlanCodeSequence": "X", "CountryOfResidence": "X", "RegionOfResidence": "X",
    "CurrentPatientLocation": "X", "PatientState": "X", "AdditionalPatientHistory": "X",
    "Allergies": "X", "MedicalAlerts": "X", "PregnancyStatus": "X", "SmokingStatus": "X",
    "LastMenstrualDate": "X", "ResponsiblePerson": "X", "ResponsibleOrganization": "X",
    "PatientTransportArrangements": "X", "AdmissionID": "X", "AdmittingDiagnosesDescription": "X",
    "AdmittingDiagnosesCodeSequence": "X", "IssuerOfAdmissionIDSequence": "X",
    "ServiceEpisodeID": "X", "ServiceEpisodeDescription": "X", "VisitComments": "X",
    "PatientSpeciesDescription": "K", "PatientBreedDescription": "K",
    # study / series / equipment
    "AccessionNumber": "Z", "StudyID": "Z", "StudyDescription": "X", "SeriesDescription": "X",
    "ReferringPhysicianName": "Z", "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X", "ReferringPhysicianIdentificationSequence": "X",
    "PhysiciansOfRecord": "X", "PhysiciansOfRecordIdentificationSequence": "X",
    "PerformingPhysicianName": "X", "PerformingPhysicianIdentificationSequence": "X",
    "NameOfPhysiciansReadingStudy": "X", "PhysiciansReadingStudyIdentificationSequence": "X",
    "OperatorsName": "X", "OperatorIdentificationSequence": "X", "RequestingPhysician": "X",
    "RequestingService": "X", "InstitutionName": "X", "InstitutionAddress": "X",
    "InstitutionalDepartmentName": "X", "InstitutionCodeSequence": "X", "StationName": "X",
    "DeviceSerialNumber": "X", "DeviceUID": "U", "PlateID": "X", "GantryID": "X",
    "CassetteID": "X", "DetectorID": "X", "GeneratorID": "X", "SourceSerialNumber": "X",
    "ProtocolName": "X", "PerformedProcedureStepID": "X", "PerformedProcedureStepDescription": "X",
    "PerformedStationName": "X", "PerformedLocation": "X", "ScheduledProcedureStepID": "X",
    "ScheduledStationName": "X", "ScheduledPerformingPhysicianName": "X",
    "RequestedProcedureID": "X", "RequestedProcedureDescription": "X",
    "RequestAttributesSequence": "X", "ReasonForStudy": "X", "ReasonForTheRequestedProcedure": "X",
    "RequestedProcedureComments": "X", "ImagingServiceRequestComments": "X",
    "InterpretationAuthor": "X", "InterpretationText": "X", "ResultsComments": "X",
    "ImageComments": "X", "FrameComments": "X", "DerivationDescription": "X",
    "AcquisitionComments": "X", "ContrastBolusAgent": "K", "TextComments": "X",
    "TextString": "X", "OverlayComments": "X", "IconImageSequence": "X",
    "ContentCreatorName": "Z", "ContentCreatorIdentificationCodeSequence": "X",
    "VerifyingObserverName": "D", "VerifyingObserverIdentificationCodeSequence": "Z",
    "VerifyingOrganization": "X", "PersonName": "D", "PersonAddress": "X",
    "PersonTelephoneNumbers": "X", "Arbitrary": "X", "DigitalSignaturesSequence": "X",
    "AuthorObserverSequence": "X", "ParticipantSequence": "X", "CustodialOrganizationSequence": "X",
    "ClinicalTrialSponsorName": "K", "ClinicalTrialSubjectID": "K",
    # UIDs (U) and what must stay (K)
    "StudyInstanceUID": "U", "SeriesInstanceUID": "U", "SOPInstanceUID": "U",
    "MediaStorageSOPInstanceUID": "U", "FrameOfReferenceUID": "U",
    "ReferencedSOPInstanceUID": "U", "ReferencedFrameOfReferenceUID": "U",
    "SynchronizationFrameOfReferenceUID": "U", "InstanceCreatorUID": "U",
    "IrradiationEventUID": "U", "StorageMediaFileSetUID": "U", "UID": "U",
    "ConcatenationUID": "U", "DimensionOrganizationUID": "U", "TargetUID": "U",
    "SOPClassUID": "K", "MediaStorageSOPClassUID": "K", "TransferSyntaxUID": "K",
    "ImplementationClassUID": "K",
}  # fmt: skip
DUMMY = {"PN": "ANONYMOUS", "LO": "ANONYMOUS", "SH": "ANON", "CS": "ANON", "DA": "19000101",
         "TM": "000000", "DT": "19000101000000", "UI": "2.25.0", "AS": "000Y", "LT": "ANON",
         "ST": "ANON", "UT": "ANON", "IS": "0", "DS": "0"}  # fmt: skip
METHOD = "medai: PS3.15 E.1 Basic Profile, modified dates"  # LO: at most 64 characters


@dataclass
class DicomResult:
    """What :func:`deidentify_path` did."""

    n_done: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


class _Context:
    def __init__(self, key: str | bytes | None, patient: str) -> None:
        self.surrogates = Surrogates(key)
        self.key = self.surrogates.key
        self.patient = patient
        self.days = self.surrogates.date_offset(patient)

    def uid(self, value: str) -> str:
        digest = hmac.new(self.key, f"uid\x1f{value}".encode(), hashlib.sha256).digest()
        return f"2.25.{int.from_bytes(digest[:16], 'big')}"

    def pseudonym(self) -> str:
        digest = hmac.new(self.key, f"pid\x1f{self.patient}".encode(), hashlib.sha256).hexdigest()
        return f"ANON{digest[:12].upper()}"

    def shift(self, value: str, vr: str) -> str:
        value = str(value).strip()
        if not value:
            return value
        try:
            if vr == "DA":
                d = dt.datetime.strptime(value[:8], "%Y%m%d") - dt.timedelta(days=self.days)
                return d.strftime("%Y%m%d")
            m = re.match(r"(\d{8})(.*)", value)
            if m:  # DT: YYYYMMDD + time/zone kept
                d = dt.datetime.strptime(m.group(1), "%Y%m%d") - dt.timedelta(days=self.days)
                return d.strftime("%Y%m%d") + m.group(2)
        except ValueError:
            pass
        return DUMMY[vr]


def _is_standard_uid(value: str) -> bool:
    return str(value).startswith("1.2.840.10008.")


def _process(ds: Any, ctx: _Context, keep_private: bool) -> None:
    from pydicom.datadict import keyword_for_tag

    if not keep_private:
        ds.remove_private_tags()
    for elem in list(ds):
        tag, vr = elem.tag, elem.VR
        keyword = elem.keyword or keyword_for_tag(tag) or ""
        group = tag.group
        if 0x5000 <= group <= 0x50FF or (0x6000 <= group <= 0x60FF and tag.element != 0x3000
                                          and keyword == "OverlayComments"):  # fmt: skip
            del ds[tag]
            continue
        action = ACTIONS.get(keyword)
        if vr == "SQ":
            if action == "X":
                del ds[tag]
                continue
            for item in elem.value:
                _process(item, ctx, keep_private)
            continue
        if action is None:
            if vr == "PN":
                action = "X"
            elif vr == "UI":
                action = "K" if all(_is_standard_uid(v) for v in _values(elem)) else "U"
            elif vr in ("DA", "DT"):
                action = "shift"
            else:
                continue  # K
        if action in ("Z",) and vr in ("DA", "DT"):
            action = "shift" if keyword != "PatientBirthDate" else "Z"
        _apply(ds, elem, action, vr, keyword, ctx)


def _values(elem: Any) -> list[str]:
    v = elem.value
    if v is None or v == "":
        return []
    if isinstance(v, str | bytes) or not hasattr(v, "__iter__"):
        return [str(v)]
    return [str(x) for x in v]  # MultiValue


def _apply(ds: Any, elem: Any, action: str, vr: str, keyword: str, ctx: _Context) -> None:
    if action == "K":
        return
    if action == "X":
        del ds[elem.tag]
    elif action == "Z":
        elem.value = "" if vr not in ("US", "SS", "UL", "SL", "FL", "FD") else 0
    elif action == "U":
        new = [v if _is_standard_uid(v) else ctx.uid(v) for v in _values(elem)]
        elem.value = new if len(new) != 1 else new[0]
    elif action == "shift":
        new = [ctx.shift(v, vr) for v in _values(elem)]
        elem.value = new if len(new) != 1 else (new[0] if new else "")
    elif action == "D":
        if keyword in ("PatientName", "PatientID"):
            elem.value = ctx.pseudonym()
        else:
            elem.value = DUMMY.get(vr, "ANON")


def deidentify_dataset(ds: Any, *, key: str | bytes | None = None,
                       keep_private: bool = False) -> list[str]:  # fmt: skip
    """De-identify a pydicom Dataset in place; returns warnings (burned-in annotation)."""
    pydicom = require("pydicom", "imaging")
    patient = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "")
    ctx = _Context(key, patient)
    warnings = []
    burned = str(ds.get("BurnedInAnnotation", "")).upper()
    if burned != "NO":
        warnings.append("BurnedInAnnotation is " + (burned or "absent") + ": text burned into "
                        "the pixels is not removed; check the images")  # fmt: skip
    _process(ds, ctx, keep_private)
    if hasattr(ds, "file_meta") and ds.file_meta is not None:
        _process(ds.file_meta, ctx, True)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    codes = []
    for value, meaning in (("113100", "Basic Application Confidentiality Profile"),
                           ("113107", "Retain Longitudinal Temporal Information Modified "
                                      "Dates Option")):  # fmt: skip
        item = pydicom.Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = pydicom.Sequence(codes)
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    return warnings


def deidentify_path(
    source: str | Path, out: str | Path, *, key: str | bytes | None = None,
    keep_private: bool = False, progress: Progress | None = None,
) -> DicomResult:  # fmt: skip
    """De-identify one DICOM file or every file in a folder (recursively) into ``out``.

    Each output is written to a temporary name and renamed, so a failed file leaves nothing;
    a file that is not DICOM is reported in ``errors`` and skipped. Without ``key`` a random
    one is drawn: UIDs and dates are consistent within the run only.
    """
    require("pydicom", "imaging")
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    source, out = Path(source), Path(out)
    if not source.exists():
        raise DataFileError(f"{str(source)!r} does not exist")
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
        targets = [out / p.relative_to(source) for p in files]
        if out.exists() and not out.is_dir():
            raise InvalidInputError(f"the input is a folder, so {str(out)!r} must be a folder")
    else:
        files = [source]
        targets = [out / source.name if out.is_dir() else out]
    if out.resolve() == source.resolve():
        raise InvalidInputError("the output must differ from the input (originals are kept)")
    if key is None:
        import secrets

        key = secrets.token_bytes(32)
    result = DicomResult()
    for i, (src, dst) in enumerate(zip(files, targets, strict=True)):
        try:
            ds = dcmread(src)
            if "PixelData" not in ds and "SOPClassUID" not in ds:
                raise InvalidDicomError("no SOP Class UID and no pixel data")
            for w in deidentify_dataset(ds, key=key, keep_private=keep_private):
                result.warnings.append((str(src), w))
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            try:
                ds.save_as(tmp, enforce_file_format=True)
                tmp.replace(dst)
            finally:
                tmp.unlink(missing_ok=True)
            result.n_done += 1
        except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError,
                KeyError) as exc:  # fmt: skip
            msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            result.errors.append((str(src), f"not a readable DICOM file ({msg})"))
        if progress is not None:
            progress("de-identifying", i + 1, len(files))
    return result
