"""Drug-likeness and structural-alert filters: Lipinski, Veber, Ghose, QED, SA score, PAINS, Brenk.

Rules (columns of :func:`filter_molecules`)
    ``lipinski``  Lipinski's rule of five: MW <= 500, logP <= 5, H-bond donors (N-H + O-H)
                  <= 5, acceptors (N + O) <= 10; passes with at most one violation.
    ``veber``     rotatable bonds <= 10 and TPSA <= 140 Å².
    ``ghose``     160 <= MW <= 480, -0.4 <= logP <= 5.6, 40 <= molar refractivity <= 130,
                  20 <= atoms (hydrogens included) <= 70.
    ``qed``       quantitative estimate of drug-likeness (Bickerton 2012, RDKit ``QED.qed``);
                  a rule only with ``min_qed``.
    ``sa``        synthetic accessibility score, 1 (easy) to 10 (hard) (Ertl & Schuffenhauer
                  2009, RDKit Contrib ``sascorer``); a rule only with ``max_sa``.
    ``pains``     PAINS substructure alerts, families A, B and C (Baell & Holloway 2010, RDKit
                  FilterCatalog); passes with no alert.
    ``brenk``     Brenk unwanted-functionality alerts (Brenk 2008, RDKit FilterCatalog).

logP and molar refractivity are Crippen's (``Descriptors.MolLogP``, ``MolMR``); MW is the
average molecular weight. The FilterCatalogs and the SA fragment table are built once per
process. The SA score module ships with RDKit (Contrib/SA_Score); it loads RDKit's own
fragment-score table (``fpscores.pkl.gz``, part of the RDKit install, never a user's file).
"""

from __future__ import annotations

import functools
import html
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from medai.core.report import Report
    from medai.molecules.io import Rejection

__all__ = [
    "ALERT_CATALOGS",
    "RULES",
    "Alert",
    "filter_molecules",
    "filter_report",
    "find_alerts",
    "parse_rules",
    "sa_score",
]

Progress = Callable[[str, int, int], None]

#: Every rule name, in the order of the output columns.
RULES = ("lipinski", "veber", "ghose", "qed", "sa", "pains", "brenk")
#: Rules that are structural alerts (FilterCatalog names).
ALERT_CATALOGS = {"pains": "PAINS", "brenk": "BRENK"}


@dataclass(frozen=True)
class Alert:
    """One structural alert matched in a molecule.

    Attributes
    ----------
    rule : str
        ``"pains"`` or ``"brenk"``.
    name : str
        The catalog entry, e.g. ``"ene_rhod_A(235)"`` or ``"Michael_acceptor_1"``.
    family : str
        The entry's filter set, e.g. ``"PAINS_A"``, ``"Brenk"``.
    atoms : tuple of int
        Indices of the matched atoms in the molecule (for highlighting).
    """

    rule: str
    name: str
    family: str
    atoms: tuple[int, ...]


def parse_rules(rules: str | Sequence[str]) -> tuple[str, ...]:
    """Rule names from ``"lipinski,veber"`` or a sequence; ``"all"`` means every rule."""
    items = rules.split(",") if isinstance(rules, str) else list(rules)
    names = [str(r).strip().lower() for r in items if str(r).strip()]
    if names == ["all"]:
        return RULES
    unknown = [r for r in names if r not in RULES]
    if unknown or not names:
        raise InvalidInputError(
            f"unknown rule(s) {unknown or rules!r}; expected some of {', '.join(RULES)} (or all)"
        )
    return tuple(r for r in RULES if r in names)


@functools.cache
def _catalog(rule: str) -> Any:
    FC = require("rdkit.Chem.FilterCatalog", "molecules")
    params = FC.FilterCatalogParams()
    params.AddCatalog(getattr(FC.FilterCatalogParams.FilterCatalogs, ALERT_CATALOGS[rule]))
    return FC.FilterCatalog(params)


def find_alerts(mol: Mol, rule: str = "pains") -> list[Alert]:
    """Structural alerts of one catalog (``"pains"`` or ``"brenk"``) matched in ``mol``.

    Returns
    -------
    list of Alert
        One per matching catalog entry, with the matched atom indices (all matches of that
        entry together), in catalog order.
    """
    if rule not in ALERT_CATALOGS:
        raise InvalidInputError(f"unknown alert catalog {rule!r}; expected pains or brenk")
    if mol is None:
        raise InvalidInputError("find_alerts got None instead of an RDKit molecule")
    alerts = []
    for entry in _catalog(rule).GetMatches(mol):
        atoms: set[int] = set()
        for match in entry.GetFilterMatches(mol):
            atoms.update(int(pair.target) for pair in match.atomPairs)
        props = set(entry.GetPropList())
        family = entry.GetProp("FilterSet") if "FilterSet" in props else rule.upper()
        alerts.append(Alert(rule, str(entry.GetDescription()), str(family), tuple(sorted(atoms))))
    return alerts


@functools.cache
def _sascorer() -> Any:
    """RDKit Contrib's ``sascorer`` module, loaded once from RDConfig.RDContribDir."""
    RDConfig = require("rdkit.RDConfig", "molecules")
    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
    if not os.path.exists(path):
        raise InvalidInputError(
            f"the SA score needs RDKit's Contrib/SA_Score, not found at {path!r}; reinstall "
            "rdkit from PyPI or conda (which ship it) or leave 'sa' out of the rules"
        )
    spec = importlib.util.spec_from_file_location("medai_rdkit_sascorer", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a file that exists loads
        raise InvalidInputError(f"cannot load the SA score module {path!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.readFragmentScores()
    return module


def sa_score(mol: Mol) -> float:
    """Synthetic accessibility score, 1 (easy to make) to 10 (hard)."""
    score = _sascorer().calculateScore(mol)
    return float("nan") if score is None else float(score)


def _n_atoms_with_h(mol: Any) -> int:
    return int(mol.GetNumAtoms() + sum(a.GetTotalNumHs() for a in mol.GetAtoms()))


def _row(mol: Any, rules: tuple[str, ...], max_sa: float | None, min_qed: float | None) -> dict:
    Descriptors = require("rdkit.Chem.Descriptors", "molecules")
    rdMD = require("rdkit.Chem.rdMolDescriptors", "molecules")
    errors: list[str] = []

    def safe(name: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # RDKit fails on a few exotic molecules: report, go on
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
            return None

    nan = float("nan")
    mw = safe("mw", lambda: float(Descriptors.MolWt(mol)))
    logp = safe("logp", lambda: float(Descriptors.MolLogP(mol)))
    hbd = safe("hbd", lambda: int(rdMD.CalcNumLipinskiHBD(mol)))
    hba = safe("hba", lambda: int(rdMD.CalcNumLipinskiHBA(mol)))
    tpsa = safe("tpsa", lambda: float(rdMD.CalcTPSA(mol)))
    rot = safe("rotatable_bonds", lambda: int(rdMD.CalcNumRotatableBonds(mol)))
    row: dict[str, Any] = {
        "mw": mw, "logp": logp, "hbd": hbd, "hba": hba, "tpsa": tpsa, "rotatable_bonds": rot,
    }  # fmt: skip
    basic_ok = None not in (mw, logp, hbd, hba)
    if "lipinski" in rules:
        if basic_ok:
            violations = int(mw > 500) + int(logp > 5) + int(hbd > 5) + int(hba > 10)
            row["lipinski_violations"] = violations
            row["lipinski_pass"] = violations <= 1
        else:
            row["lipinski_violations"] = None
            row["lipinski_pass"] = False
    if "veber" in rules:
        row["veber_pass"] = rot is not None and tpsa is not None and rot <= 10 and tpsa <= 140
    if "ghose" in rules:
        mr = safe("molar_refractivity", lambda: float(Descriptors.MolMR(mol)))
        atoms = safe("n_atoms", lambda: _n_atoms_with_h(mol))
        row["molar_refractivity"] = mr
        row["n_atoms"] = atoms
        row["ghose_pass"] = (
            basic_ok
            and mr is not None
            and atoms is not None
            and 160 <= mw <= 480
            and -0.4 <= logp <= 5.6
            and 40 <= mr <= 130
            and 20 <= atoms <= 70
        )
    if "qed" in rules:
        QED = require("rdkit.Chem.QED", "molecules")
        qed = safe("qed", lambda: float(QED.qed(mol)))
        row["qed"] = nan if qed is None else qed
        if min_qed is not None:
            row["qed_pass"] = qed is not None and qed >= min_qed
    if "sa" in rules:
        sa = safe("sa_score", lambda: sa_score(mol))
        row["sa_score"] = nan if sa is None else sa
        if max_sa is not None:
            row["sa_pass"] = bool(sa is not None and sa <= max_sa)
    for rule in ("pains", "brenk"):
        if rule in rules:
            alerts = safe(f"{rule}_alerts", functools.partial(find_alerts, mol, rule))
            row[f"{rule}_alerts"] = "; ".join(a.name for a in alerts or [])
            row[f"{rule}_pass"] = alerts == []
    failed = [rule for rule in RULES if row.get(f"{rule}_pass") is False]
    row["failed"] = ", ".join(failed)
    row["passes"] = not failed
    row["errors"] = "; ".join(errors)
    return row


def filter_molecules(
    mols: Sequence[Mol],
    rules: str | Sequence[str] = RULES,
    *,
    max_sa: float | None = None,
    min_qed: float | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Drug-likeness properties, rule results and structural alerts per molecule.

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol, length n
    rules : str or sequence of str
        Some of :data:`RULES` (``"lipinski,veber"``, a list, or ``"all"``).
    max_sa : float, optional
        With ``"sa"``: molecules scoring above it fail (``sa_pass``), e.g. 6.
    min_qed : float, optional
        With ``"qed"``: molecules below it fail (``qed_pass``), e.g. 0.5.
    progress : callable(step, done, total), optional

    Returns
    -------
    pandas.DataFrame, shape (n, n_columns)
        Always ``mw``, ``logp``, ``hbd``, ``hba``, ``tpsa``, ``rotatable_bonds``; per rule:
        ``lipinski_violations`` and ``lipinski_pass``; ``veber_pass``; ``molar_refractivity``,
        ``n_atoms`` and ``ghose_pass``; ``qed`` (and ``qed_pass`` with ``min_qed``);
        ``sa_score`` (and ``sa_pass`` with ``max_sa``); ``pains_alerts`` and ``pains_pass``;
        ``brenk_alerts`` and ``brenk_pass`` (alert names joined by ``"; "``, empty when none);
        then ``failed`` (names of the failed rules), ``passes`` (no rule failed) and ``errors``
        (what RDKit could not compute for this molecule, empty normally; a rule that could
        not be computed fails and its value is missing).
    """
    chosen = parse_rules(rules)
    if max_sa is not None:
        if "sa" not in chosen:
            raise InvalidInputError("max_sa needs the 'sa' rule")
        if not 1 <= max_sa <= 10:
            raise InvalidInputError(f"max_sa must be between 1 and 10, got {max_sa}")
    if min_qed is not None:
        if "qed" not in chosen:
            raise InvalidInputError("min_qed needs the 'qed' rule")
        if not 0 <= min_qed <= 1:
            raise InvalidInputError(f"min_qed must be between 0 and 1, got {min_qed}")
    rdBase = require("rdkit.rdBase", "molecules")
    rows = []
    n = len(mols)
    with rdBase.BlockLogs():
        for i, mol in enumerate(mols):
            if mol is None:
                raise InvalidInputError(f"mols[{i}] is None; filter only parsed molecules")
            rows.append(_row(mol, chosen, max_sa, min_qed))
            if progress is not None and ((i + 1) % 256 == 0 or i + 1 == n):
                progress("filtering", i + 1, n)
    if not rows:
        return pd.DataFrame(columns=_columns(chosen, max_sa, min_qed))
    return pd.DataFrame(rows, columns=_columns(chosen, max_sa, min_qed))


def _columns(rules: tuple[str, ...], max_sa: float | None, min_qed: float | None) -> list[str]:
    cols = ["mw", "logp", "hbd", "hba", "tpsa", "rotatable_bonds"]
    extra = {
        "lipinski": ["lipinski_violations", "lipinski_pass"],
        "veber": ["veber_pass"],
        "ghose": ["molar_refractivity", "n_atoms", "ghose_pass"],
        "qed": ["qed"] + (["qed_pass"] if min_qed is not None else []),
        "sa": ["sa_score"] + (["sa_pass"] if max_sa is not None else []),
        "pains": ["pains_alerts", "pains_pass"],
        "brenk": ["brenk_alerts", "brenk_pass"],
    }
    for r in rules:
        cols += extra[r]
    return [*cols, "failed", "passes", "errors"]


def filter_report(
    results: pd.DataFrame,
    mols: Sequence[Mol],
    *,
    ids: Sequence[str] | None = None,
    rejected: Sequence[Rejection] = (),
    title: str = "medai molecule filter",
    subtitle: str = "",
    max_drawn: int = 48,
) -> Report:
    """HTML report: counts per rule, rejected rows, and drawings with alerts highlighted.

    Parameters
    ----------
    results : pandas.DataFrame, shape (n, n_columns)
        Output of :func:`filter_molecules` for ``mols``.
    mols : sequence of rdkit.Chem.Mol, length n
    ids : sequence of str, length n, optional
        Legends of the drawings (default: the position).
    rejected : sequence of Rejection
        Rows that could not be read (listed with their reasons).
    max_drawn : int
        Most molecules drawn per grid (the first ones failing a rule, then the first passing).

    Returns
    -------
    medai.core.report.Report
    """
    from medai.core.report import Report, table_html
    from medai.molecules.draw import grid_svg

    if len(results) != len(mols):
        raise InvalidInputError(f"results has {len(results)} rows for {len(mols)} molecules")
    names = list(ids) if ids is not None else [str(i) for i in range(len(mols))]
    n = len(results)
    report = Report(title=title, subtitle=subtitle)
    counts = []
    for rule in RULES:
        col = f"{rule}_pass"
        if col in results.columns:
            passed = int(results[col].sum())
            counts.append({"rule": rule, "molecules": n, "pass": passed, "fail": n - passed})
    overall = int(results["passes"].sum()) if n else 0
    counts.append({"rule": "all rules", "molecules": n, "pass": overall, "fail": n - overall})
    summary = table_html(counts, ["rule", "molecules", "pass", "fail"])
    if rejected:
        summary += (
            f"<p>{len(rejected)} input row(s) could not be read and were not filtered "
            "(see below).</p>"
        )
    scores = []
    for col, label in (("qed", "QED"), ("sa_score", "SA score")):
        if col in results.columns and n:
            v = results[col].to_numpy(dtype=np.float64)
            scores.append(
                {"score": label, "min": np.nanmin(v), "median": np.nanmedian(v),
                 "max": np.nanmax(v)}
            )  # fmt: skip
    if scores:
        summary += table_html(scores, ["score", "min", "median", "max"])
    report.add("Summary", summary)

    alert_counts: dict[tuple[str, str], int] = {}
    for rule in ("pains", "brenk"):
        col = f"{rule}_alerts"
        if col in results.columns:
            for text in results[col]:
                for name in filter(None, str(text).split("; ")):
                    alert_counts[(rule, name)] = alert_counts.get((rule, name), 0) + 1
    if alert_counts:
        rows = [
            {"catalog": r, "alert": a, "molecules": c}
            for (r, a), c in sorted(alert_counts.items(), key=lambda kv: -kv[1])
        ]
        report.add("Structural alerts", table_html(rows, ["catalog", "alert", "molecules"]))

    failing = [i for i in range(n) if not bool(results["passes"].iat[i])]
    passing = [i for i in range(n) if bool(results["passes"].iat[i])]
    for heading, idx in (("Molecules failing a rule", failing), ("Molecules passing", passing)):
        if not idx:
            continue
        shown = idx[:max_drawn]
        highlights, legends = [], []
        for i in shown:
            atoms: set[int] = set()
            labels = []
            for rule in ("pains", "brenk"):
                if f"{rule}_alerts" in results.columns and results[f"{rule}_alerts"].iat[i]:
                    for alert in find_alerts(mols[i], rule):
                        atoms.update(alert.atoms)
                        labels.append(alert.name)
            failed = str(results["failed"].iat[i]) if "failed" in results.columns else ""
            legend = names[i] + (f" [{failed}]" if failed else "")
            if labels:
                legend += ": " + ", ".join(labels[:2]) + (" ..." if len(labels) > 2 else "")
            legends.append(legend[:60])
            highlights.append(sorted(atoms))
        note = (
            f'<p class="muted">showing {len(shown)} of {len(idx)}; atoms matched by PAINS/Brenk '
            "alerts are highlighted</p>"
        )
        svg = grid_svg([mols[i] for i in shown], legends, highlight_atoms=highlights)
        report.add(heading, note + svg)

    if rejected:
        rows_r = [
            {"row": r.row, "id": r.id, "input": r.input[:80], "reason": r.reason}
            for r in list(rejected)[:500]
        ]
        more = f"<p class='muted'>first 500 of {len(rejected)}</p>" if len(rejected) > 500 else ""
        report.add("Rejected rows", table_html(rows_r, ["row", "id", "input", "reason"]) + more)
    report.add(
        "Intended use and limitations",
        "<p>"
        + html.escape(
            "Rules of thumb and substructure alerts flag molecules for a chemist to review; they "
            "do not prove a molecule is or is not drug-like, toxic or an assay artefact. PAINS "
            "alerts were derived from AlphaScreen assays and over- and under-flag elsewhere."
        )
        + "</p>",
    )
    return report
