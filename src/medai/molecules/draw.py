"""SVG drawings of molecules (RDKit ``rdMolDraw2D``), ready to embed in medai's HTML reports.

The SVG needs no Pillow or Cairo. The XML declaration is removed so the markup can go inside
an HTML page, and legends are stripped of ``<``, ``>``, ``&`` and quotes, so a molecule's id
cannot inject markup whichever way RDKit renders text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = ["grid_svg", "mol_svg", "similarity_map"]

_UNSAFE = re.compile(r"[<>&\"']")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_HIGHLIGHT = (1.0, 0.55, 0.55)  # light red


def _draw2d() -> Any:
    return require("rdkit.Chem.Draw.rdMolDraw2D", "molecules")


def _safe_legend(text: str | None) -> str:
    return _UNSAFE.sub("", str(text or ""))[:80]


def _finish(drawer: Any) -> str:
    drawer.FinishDrawing()
    return _XML_DECL.sub("", drawer.GetDrawingText())


def _bonds_between(mol: Any, atoms: Sequence[int]) -> list[int]:
    chosen = set(atoms)
    return [
        b.GetIdx()
        for b in mol.GetBonds()
        if b.GetBeginAtomIdx() in chosen and b.GetEndAtomIdx() in chosen
    ]


def _check_atoms(mol: Any, atoms: Sequence[int], what: str) -> list[int]:
    n = mol.GetNumAtoms()
    out = [int(a) for a in atoms]
    bad = [a for a in out if not 0 <= a < n]
    if bad:
        raise InvalidInputError(f"{what} {bad[:5]} out of range for a molecule of {n} atoms")
    return out


def mol_svg(
    mol: Mol,
    highlight_atoms: Sequence[int] | None = None,
    atom_weights: Sequence[float] | np.ndarray | None = None,
    *,
    size: tuple[int, int] = (300, 240),
    legend: str = "",
) -> str:
    """One molecule as SVG markup.

    Parameters
    ----------
    mol : rdkit.Chem.Mol
    highlight_atoms : sequence of int, optional
        Atom indices to highlight (with the bonds between them), e.g. an alert's match.
    atom_weights : array-like, shape (n_atoms,), optional
        Per-atom contributions (e.g. from an explanation): atoms are shaded red for positive
        and blue for negative weights, more strongly for larger ``|w|`` (scaled by the
        largest ``|w|``).
    size : (width, height)
        Pixels.
    legend : str
        Text under the drawing.

    Returns
    -------
    str
        ``<svg ...>...</svg>`` without an XML declaration.
    """
    if mol is None:
        raise InvalidInputError("mol_svg got None instead of an RDKit molecule")
    d2d = _draw2d()
    drawer = d2d.MolDraw2DSVG(int(size[0]), int(size[1]))
    kwargs: dict[str, Any] = {"legend": _safe_legend(legend)}
    if atom_weights is not None:
        w = np.asarray(atom_weights, dtype=np.float64)
        if w.shape != (mol.GetNumAtoms(),):
            raise InvalidInputError(
                f"atom_weights has shape {w.shape}; expected ({mol.GetNumAtoms()},), one per atom"
            )
        w = np.nan_to_num(w)
        top = float(np.abs(w).max()) or 1.0
        colours: dict[int, tuple[float, float, float]] = {}
        radii: dict[int, float] = {}
        for i, value in enumerate(w):
            strength = abs(value) / top
            if strength < 0.05:
                continue
            fade = 1.0 - 0.7 * strength
            colours[i] = (1.0, fade, fade) if value > 0 else (fade, fade, 1.0)
            radii[i] = 0.3 + 0.2 * strength
        kwargs.update(
            highlightAtoms=list(colours),
            highlightAtomColors=colours,
            highlightAtomRadii=radii,
            highlightBonds=[],
        )
    elif highlight_atoms:
        atoms = _check_atoms(mol, highlight_atoms, "highlight_atoms")
        bonds = _bonds_between(mol, atoms)
        kwargs.update(
            highlightAtoms=atoms,
            highlightBonds=bonds,
            highlightAtomColors=dict.fromkeys(atoms, _HIGHLIGHT),
            highlightBondColors=dict.fromkeys(bonds, _HIGHLIGHT),
        )
    d2d.PrepareAndDrawMolecule(drawer, mol, **kwargs)
    return _finish(drawer)


def grid_svg(
    mols: Sequence[Mol | None],
    legends: Sequence[str] | None = None,
    per_row: int = 4,
    size: tuple[int, int] = (220, 180),
    *,
    highlight_atoms: Sequence[Sequence[int]] | None = None,
) -> str:
    """Several molecules in a grid, as one SVG.

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol or None, length n
        A None draws an empty panel.
    legends : sequence of str, length n, optional
    per_row : int
        Panels per row.
    size : (width, height)
        Pixels per panel.
    highlight_atoms : sequence of sequences of int, length n, optional
        Atoms to highlight in each molecule (with the bonds between them).

    Returns
    -------
    str
        ``<svg ...>...</svg>`` of ``min(n, per_row) * width`` by ``ceil(n / per_row) * height``
        pixels, without an XML declaration (an empty string for no molecules).
    """
    Chem = require("rdkit.Chem", "molecules")
    n = len(mols)
    if per_row < 1:
        raise InvalidInputError(f"per_row must be at least 1, got {per_row}")
    if legends is not None and len(legends) != n:
        raise InvalidInputError(f"{len(legends)} legends for {n} molecules")
    if highlight_atoms is not None and len(highlight_atoms) != n:
        raise InvalidInputError(f"{len(highlight_atoms)} highlight lists for {n} molecules")
    if n == 0:
        return ""
    cols = min(n, per_row)
    rows = -(-n // per_row)
    width, height = int(size[0]), int(size[1])
    drawer = _draw2d().MolDraw2DSVG(cols * width, rows * height, width, height)
    drawn = [m if m is not None else Chem.Mol() for m in mols]
    text = [_safe_legend(s) for s in legends] if legends is not None else [""] * n
    kwargs: dict[str, Any] = {"legends": text}
    if highlight_atoms is not None:
        atoms = [
            _check_atoms(m, h, f"highlight_atoms[{i}]")
            for i, (m, h) in enumerate(zip(drawn, highlight_atoms, strict=True))
        ]
        bonds = [_bonds_between(m, a) for m, a in zip(drawn, atoms, strict=True)]
        kwargs.update(
            highlightAtoms=atoms,
            highlightBonds=bonds,
            highlightAtomColors=[dict.fromkeys(a, _HIGHLIGHT) for a in atoms],
            highlightBondColors=[dict.fromkeys(b, _HIGHLIGHT) for b in bonds],
        )
    drawer.DrawMolecules(drawn, **kwargs)
    return _finish(drawer)


def similarity_map(
    mol: Mol,
    weights: Sequence[float] | np.ndarray,
    *,
    size: tuple[int, int] = (320, 280),
    fmt: str = "svg",
    resolution: float = 0.2,
    legend: str = "",
) -> str | bytes:
    """A similarity map: per-atom weights as Gaussians, red where positive, blue where negative.

    The colour scale is symmetric around 0 (white) and set by the largest ``|weight|``;
    negative contours are dashed.

    Parameters
    ----------
    mol : rdkit.Chem.Mol
    weights : array-like, shape (n_atoms,)
    size : (width, height)
        Pixels.
    fmt : {"svg", "png"}
        SVG markup (str, no XML declaration) or PNG bytes (Cairo; smaller in reports).
    resolution : float
        Grid step in Å of the coloured field (smaller is smoother and, in SVG, larger).
    legend : str

    Returns
    -------
    str or bytes
    """
    Chem = require("rdkit.Chem", "molecules")
    Geometry = require("rdkit.Geometry", "molecules")
    d2d = _draw2d()
    if mol is None:
        raise InvalidInputError("similarity_map got None instead of an RDKit molecule")
    if fmt not in ("svg", "png"):
        raise InvalidInputError(f"fmt must be 'svg' or 'png', got {fmt!r}")
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    if w.shape != (mol.GetNumAtoms(),):
        raise InvalidInputError(
            f"weights has shape {w.shape}; expected ({mol.GetNumAtoms()},), one per atom"
        )
    drawn = d2d.PrepareMolForDrawing(Chem.Mol(mol), addChiralHs=False)
    drawer = (d2d.MolDraw2DSVG if fmt == "svg" else d2d.MolDraw2DCairo)(int(size[0]),
                                                                         int(size[1]))  # fmt: skip
    conf = drawn.GetConformer()
    centres = [Geometry.Point2D(conf.GetAtomPosition(i).x, conf.GetAtomPosition(i).y)
               for i in range(drawn.GetNumAtoms())]  # fmt: skip
    params = d2d.ContourParams()
    params.fillGrid = True
    params.gridResolution = resolution
    params.extraGridPadding = 0.5
    params.dashNegative = True
    params.setColourMap([(0.25, 0.45, 1.0), (1.0, 1.0, 1.0), (1.0, 0.3, 0.3)])
    drawer.drawOptions().legendFontSize = 14
    drawer.ClearDrawing()
    if drawn.GetNumBonds():
        sigma = 0.3 * float(np.mean([
            (conf.GetAtomPosition(b.GetBeginAtomIdx()) - conf.GetAtomPosition(b.GetEndAtomIdx()))
            .Length() for b in drawn.GetBonds()]))  # fmt: skip
    else:
        sigma = 0.3
    d2d.ContourAndDrawGaussians(drawer, centres, [float(v) for v in w], [sigma] * len(w),
                                nContours=6, params=params, mol=drawn)  # fmt: skip
    drawer.drawOptions().clearBackground = False
    drawer.DrawMolecule(drawn, legend=_safe_legend(legend))
    if fmt == "png":
        drawer.FinishDrawing()
        return bytes(drawer.GetDrawingText())
    return _finish(drawer)
