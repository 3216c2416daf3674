"""Model-guided molecule generation: a genetic algorithm on SELFIES strings.

SELFIES (Krenn et al. 2020) are strings in which every sequence of tokens decodes to a valid
molecule, so mutation and crossover on tokens keep most children chemically valid. Each
generation:

1. parents are drawn from the population by tournaments of three (the best objective wins);
2. with probability ``crossover`` two parents are cut at random points and joined, then every
   child gets one to ``max_mutations`` random token edits (replace, insert, delete) from an
   alphabet of SELFIES's robust tokens plus the seeds' own tokens;
3. children are decoded, canonicalised and checked (one fragment, ``min_atoms`` to
   ``max_atoms`` heavy atoms); the valid, unique, unseen ones are scored;
4. the next population is the best ``population`` of parents and children ((mu + lambda)).

The objective (:class:`Objective`) is a weighted mean of components in [0, 1]:

``property``   a trained :class:`~medai.molecules.model.MolBundle`'s prediction: the
               probability (``p``) for a classifier, or for regression a linear ramp from
               ``lo`` to ``hi`` of the prediction (default: the training labels' mean ± 2 sd);
               direction ``min`` uses one minus it;
``qed``        QED (Bickerton 2012);
``sa``         ``(10 - SA score) / 9``, 1 for the easiest to make;
``filters``    the fraction of the chosen rules (Lipinski, PAINS, ...) passed;
``similarity`` the highest Tanimoto similarity (Morgan radius 2, 2048 bits) to a seed.

Every generation reports validity (valid / proposed children), uniqueness (distinct / valid),
novelty (distinct children that are not seeds and, with a model, not in its training set —
nearest-neighbour Tanimoto below 1), and the best and mean objective. A run is reproducible:
the same seeds, options and ``seed`` give the same molecules.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from medai.core.report import Report
    from medai.molecules.model import MolBundle

__all__ = ["COMPONENTS", "GenerationResult", "Objective", "generate", "parse_weights"]

Progress = Callable[[str, int, int], None]

#: Objective components, in column order.
COMPONENTS = ("property", "qed", "sa", "filters", "similarity")
DEFAULT_WEIGHTS = {"property": 1.0, "qed": 1.0, "sa": 0.5, "filters": 0.5, "similarity": 0.5}
#: Elements the mutation alphabet may introduce (SELFIES robust tokens of other elements are
#: left out: they rarely make drug-like molecules).
ORGANIC = ("C", "N", "O", "S", "F", "Cl", "Br")


def parse_weights(text: str | dict[str, float] | None) -> dict[str, float]:
    """Weights of the objective components from ``"property=1,qed=0.5"`` or a dict.

    Components left out weigh 0; ``None`` gives the defaults
    (property 1, QED 1, SA 0.5, filters 0.5, similarity 0.5).
    """
    if text is None:
        return dict(DEFAULT_WEIGHTS)
    items: dict[str, float] = {}
    if isinstance(text, dict):
        items = {str(k): v for k, v in text.items()}
    else:
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise InvalidInputError(
                    f"weight {part!r} must be NAME=NUMBER, e.g. qed=0.5 (names: {COMPONENTS})"
                )
            try:
                items[name.strip()] = float(value)
            except ValueError:
                raise InvalidInputError(f"weight {part!r}: {value!r} is not a number") from None
    unknown = [k for k in items if k not in COMPONENTS]
    if unknown:
        raise InvalidInputError(f"unknown objective component(s) {unknown}; use {COMPONENTS}")
    bad = [k for k, v in items.items() if not np.isfinite(v) or v < 0]
    if bad:
        raise InvalidInputError(f"weights must be finite and >= 0; check {bad}")
    weights = {k: float(items.get(k, 0.0)) for k in COMPONENTS}
    if sum(weights.values()) <= 0:
        raise InvalidInputError("every objective weight is 0; give at least one a positive weight")
    return weights


def _label_range(bundle: MolBundle, target: str) -> tuple[float, float]:
    """Mean ± 2 sd of the training labels of ``target`` as recorded in the card."""
    j = bundle.targets.index(target)
    stats = bundle.card.get("training_data", {}).get("label_stats", {}).get(target)
    if stats is not None:
        mean, sd = float(stats["mean"]), float(stats["std"])
    elif "target_mean" in bundle.card["model"]:
        mean = float(bundle.card["model"]["target_mean"][j])
        sd = float(bundle.card["model"]["target_std"][j])
    else:
        raise InvalidInputError(
            f"the model's card has no label statistics for {target!r}; give the property "
            "range explicitly (property_range=(lo, hi), CLI --property-range LO HI)"
        )
    sd = sd if sd > 0 else 1.0
    return mean - 2 * sd, mean + 2 * sd


@dataclass
class Objective:
    """A weighted objective over molecules; :meth:`score` gives it with its components.

    Parameters
    ----------
    seeds : sequence of rdkit.Chem.Mol
        Seed molecules (for ``similarity``).
    weights : dict or str, optional
        Component weights (:func:`parse_weights`).
    bundle : MolBundle, optional
        The property model (needed when ``property`` weighs more than 0).
    target : str, optional
        The model's target (default: its first).
    direction : {"max", "min"}
    property_range : (lo, hi), optional
        Regression only: the prediction maps linearly from ``lo`` (0) to ``hi`` (1), clipped.
    filters : sequence of str
        Rules of :func:`~medai.molecules.filters.filter_molecules` for ``filters``.
    """

    seeds: Sequence[Mol]
    weights: dict[str, float] | str | None = None
    bundle: MolBundle | None = None
    target: str | None = None
    direction: str = "max"
    property_range: tuple[float, float] | None = None
    filters: Sequence[str] = ("lipinski", "veber", "pains", "brenk")
    _seed_fps: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from medai.molecules.filters import ALERT_CATALOGS, parse_rules
        from medai.molecules.model import fingerprint_bits

        self.weights = parse_weights(self.weights)
        if self.direction not in ("max", "min"):
            raise InvalidInputError(f"direction must be 'max' or 'min', got {self.direction!r}")
        self.filters = tuple(r for r in parse_rules(list(self.filters)) if r not in ("qed", "sa"))
        if self.weights["filters"] > 0 and not self.filters:
            raise InvalidInputError("the 'filters' component needs at least one rule "
                                    f"(lipinski, veber, ghose, {', '.join(ALERT_CATALOGS)})")  # fmt: skip
        if self.weights["property"] > 0:
            if self.bundle is None:
                raise InvalidInputError(
                    "the 'property' component needs a trained model (--model BUNDLE); "
                    "or set its weight to 0 (--weights property=0,...)"
                )
            self.target = self.target or self.bundle.targets[0]
            if self.target not in self.bundle.targets:
                raise InvalidInputError(
                    f"target {self.target!r} is not one of the model's {self.bundle.targets}"
                )
            if self.bundle.classification:
                self.property_range = None
            elif self.property_range is None:
                self.property_range = _label_range(self.bundle, self.target)
            elif not self.property_range[0] < self.property_range[1]:
                raise InvalidInputError(
                    f"property range {self.property_range} must be (lo, hi) with lo < hi"
                )
        if len(self.seeds) == 0:
            raise InvalidInputError("no seed molecules")
        self._seed_fps = fingerprint_bits(list(self.seeds))

    def score(self, mols: Sequence[Mol]) -> pd.DataFrame:
        """The objective of each molecule.

        Returns
        -------
        pandas.DataFrame, len(mols) rows
            ``objective`` (weighted mean of the components, in [0, 1]), the components
            ``property``, ``qed``, ``sa``, ``filters``, ``similarity`` (each in [0, 1]), and
            ``pred_<target>``/``p_<target>``, ``nn_similarity`` (to the model's training set),
            ``sa_score``, ``failed`` (rules failed) where they apply.
        """
        from medai.molecules.filters import filter_molecules
        from medai.molecules.model import fingerprint_bits, max_tanimoto

        w = self.weights
        assert isinstance(w, dict)
        n = len(mols)
        out = pd.DataFrame(index=range(n))
        props = filter_molecules(mols, ("qed", "sa", *self.filters))
        out["qed"] = props["qed"].fillna(0.0).to_numpy()
        out["sa_score"] = props["sa_score"].to_numpy()
        out["sa"] = ((10.0 - props["sa_score"].fillna(10.0)) / 9.0).clip(0, 1).to_numpy()
        if self.filters:
            passed = np.stack([props[f"{r}_pass"].astype(bool).to_numpy() for r in self.filters])
            out["filters"] = passed.mean(0) if n else np.zeros(0)
            out["failed"] = props["failed"].to_numpy()
        else:
            out["filters"] = 1.0
        out["similarity"] = max_tanimoto(fingerprint_bits(list(mols)), self._seed_fps)
        out["property"] = 0.0
        if self.bundle is not None and self.target is not None and n:
            j = self.bundle.targets.index(self.target)
            pred = self.bundle.predict_mols(list(mols))[0][:, j]
            out[self.bundle.column(self.target)] = pred
            out["nn_similarity"] = self.bundle.similarity(list(mols))
            if self.property_range is None:
                value = pred
            else:
                lo, hi = self.property_range
                value = np.clip((pred - lo) / (hi - lo), 0.0, 1.0)
            out["property"] = value if self.direction == "max" else 1.0 - value
        total = sum(w.values())
        out.insert(0, "objective", sum(w[c] * out[c] for c in COMPONENTS) / total)
        return out


# --- SELFIES operations ---------------------------------------------------------------------
def _sf() -> Any:
    return require("selfies", "molecules")


def _alphabet(seed_tokens: Sequence[Sequence[str]]) -> list[str]:
    """Robust SELFIES tokens of organic elements (incl. ring/branch tokens) and the seeds'."""
    sf = _sf()
    robust = sorted(sf.get_semantic_robust_alphabet())
    keep = [t for t in robust if not any(ch.isalpha() for ch in t.strip("[]=#/\\"))
            or t.strip("[]=#/\\") in ORGANIC]  # fmt: skip
    for tokens in seed_tokens:
        for t in tokens:
            if t not in keep:
                keep.append(t)
    return keep


def _mutate(tokens: list[str], alphabet: Sequence[str], rng: random.Random) -> list[str]:
    tokens = list(tokens)
    op = rng.random()
    if not tokens or op < 0.4:
        tokens.insert(rng.randint(0, len(tokens)), rng.choice(alphabet))
    elif op < 0.8:
        tokens[rng.randrange(len(tokens))] = rng.choice(alphabet)
    elif len(tokens) > 1:
        del tokens[rng.randrange(len(tokens))]
    return tokens


def _crossover(a: list[str], b: list[str], rng: random.Random) -> list[str]:
    return a[: rng.randint(0, len(a))] + b[rng.randint(0, len(b)) :]


@dataclass
class GenerationResult:
    """What :func:`generate` found.

    Attributes
    ----------
    candidates : pandas.DataFrame
        Every distinct valid molecule scored during the run, best objective first: ``smiles``,
        ``generation`` (when first made; 0 for the start population), ``is_seed``, ``novel``,
        then the columns of :meth:`Objective.score`.
    history : pandas.DataFrame
        One row per generation: ``generation``, ``proposed``, ``valid``, ``unique``, ``novel``,
        ``validity``, ``uniqueness``, ``novelty``, ``best_objective``, ``mean_objective``
        (of the population after selection), ``top10_objective``.
    options : dict
        The settings of the run (for the report and reproducibility).
    """

    candidates: pd.DataFrame
    history: pd.DataFrame
    options: dict[str, Any]

    def report(self, top: int = 12) -> Report:
        """HTML report: the objective per generation, the per-generation table, best molecules."""
        from medai.core import report as rp
        from medai.molecules.draw import grid_svg

        Chem = require("rdkit.Chem", "molecules")
        report = rp.Report("medai mol generate", "SELFIES genetic algorithm")
        plt = rp._plt()
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        h = self.history
        ax.plot(h["generation"], h["best_objective"], marker="o", label="best")
        ax.plot(h["generation"], h["top10_objective"], marker=".", label="top-10 mean")
        ax.plot(h["generation"], h["mean_objective"], marker=".", label="population mean")
        ax.set_xlabel("generation")
        ax.set_ylabel("objective")
        ax.legend(loc="lower right")
        fig.tight_layout()
        opts = ", ".join(f"{k} {v}" for k, v in self.options.items())
        report.add("Objective per generation",
                   rp.figure_html(fig, "objective per generation") + f"<p>{rp._fmt(opts)}</p>")  # fmt: skip
        cols = ["generation", "proposed", "valid", "validity", "unique", "uniqueness", "novel",
                "novelty", "best_objective", "mean_objective"]  # fmt: skip
        report.add("Validity, uniqueness and novelty",
                   rp.table_html(_records(h[cols])))  # fmt: skip
        best = self.candidates.head(top)
        mols = [Chem.MolFromSmiles(s) for s in best["smiles"]]
        legends = [f"#{i + 1} obj {o:.3f} (gen {g})"
                   for i, (o, g) in enumerate(zip(best["objective"], best["generation"],
                                                  strict=True))]  # fmt: skip
        shown = [c for c in ["smiles", "objective", *COMPONENTS, "sa_score", "nn_similarity",
                             "failed"] if c in best.columns]  # fmt: skip
        report.add(f"Best {len(best)} molecules",
                   f'<div class="fig">{grid_svg(mols, legends, per_row=4)}</div>'
                   + rp.table_html(_records(best[shown])))  # fmt: skip
        return report


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.round(3).to_dict("records")]


def _check_options(population: int, offspring: int, generations: int, crossover: float,
                   max_mutations: int, min_atoms: int, max_atoms: int) -> None:  # fmt: skip
    problems = []
    if population < 2:
        problems.append(f"population must be at least 2, got {population}")
    if offspring < 1:
        problems.append(f"offspring must be at least 1, got {offspring}")
    if generations < 1:
        problems.append(f"generations must be at least 1, got {generations}")
    if not 0 <= crossover <= 1:
        problems.append(f"crossover must be a probability in [0, 1], got {crossover}")
    if max_mutations < 1:
        problems.append(f"max_mutations must be at least 1, got {max_mutations}")
    if not 1 <= min_atoms <= max_atoms:
        problems.append(f"need 1 <= min_atoms <= max_atoms, got {min_atoms} and {max_atoms}")
    if problems:
        raise InvalidInputError("; ".join(problems))


def generate(
    seeds: Sequence[str],
    objective: Objective | None = None,
    *,
    generations: int = 20,
    population: int = 100,
    offspring: int = 200,
    crossover: float = 0.3,
    max_mutations: int = 2,
    min_atoms: int = 5,
    max_atoms: int = 50,
    seed: int = 0,
    progress: Progress | None = None,
    **objective_options: Any,
) -> GenerationResult:
    """Evolve molecules from seeds towards a weighted objective.

    Parameters
    ----------
    seeds : sequence of str
        Seed SMILES (at least one valid; invalid ones raise with their position).
    objective : Objective, optional
        Built from the seeds and ``objective_options`` (``weights``, ``bundle``, ``target``,
        ``direction``, ``property_range``, ``filters``) when not given.
    generations, population, offspring : int
        Rounds, survivors per round and children proposed per round.
    crossover : float
        Probability that a child is a crossover of two parents (then mutated).
    max_mutations : int
        Each child gets 1 to ``max_mutations`` token edits.
    min_atoms, max_atoms : int
        Heavy-atom bounds of a valid child.
    seed : int
        Random seed; a run is reproducible.
    progress : callable(step, done, total), optional

    Returns
    -------
    GenerationResult
    """
    sf = _sf()
    Chem = require("rdkit.Chem", "molecules")
    rdBase = require("rdkit.rdBase", "molecules")
    from medai.molecules.io import parse_smiles

    _check_options(population, offspring, generations, crossover, max_mutations, min_atoms,
                   max_atoms)  # fmt: skip
    if isinstance(seeds, str):
        seeds = [seeds]
    if not seeds:
        raise InvalidInputError("no seed molecules; give at least one SMILES")
    mols, rejected = parse_smiles(list(seeds), max_atoms=max(max_atoms, 1000))
    if rejected:
        r = rejected[0]
        raise InvalidInputError(f"seed {r.row} ({r.input[:80]!r}) is not a valid molecule: "
                                f"{r.reason}")  # fmt: skip
    seed_mols = [m for m in mols if m is not None]
    if objective is None:
        objective = Objective(seed_mols, **objective_options)
    elif objective_options:
        raise InvalidInputError("give either an Objective or objective options, not both")
    rng = random.Random(seed)
    seed_smiles = [Chem.MolToSmiles(m) for m in seed_mols]
    seed_tokens = [list(sf.split_selfies(sf.encoder(s))) for s in seed_smiles]
    alphabet = _alphabet(seed_tokens)

    tokens_of: dict[str, list[str]] = {}
    seen: dict[str, int] = {}  # canonical SMILES -> generation first made
    rows: dict[str, dict[str, Any]] = {}

    def decode(tokens: list[str]) -> tuple[str, Mol] | None:
        try:
            smi = sf.decoder("".join(tokens))
        except Exception:  # selfies raises DecoderError and others on odd strings
            return None
        if not smi:
            return None
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smi)
        if mol is None or "." in smi:
            return None
        if not min_atoms <= mol.GetNumHeavyAtoms() <= max_atoms:
            return None
        return Chem.MolToSmiles(mol), mol

    def make_child(parents: list[str]) -> list[str]:
        a = tokens_of[rng.choice(parents)]
        if rng.random() < crossover:
            a = _crossover(a, tokens_of[rng.choice(parents)], rng)
        for _ in range(rng.randint(1, max_mutations)):
            a = _mutate(a, alphabet, rng)
        return a

    def evaluate(batch: list[tuple[str, Mol, list[str]]], generation: int) -> None:
        """Score the molecules not seen before and remember them."""
        new = [(s, m, t) for s, m, t in batch if s not in seen]
        scores = objective.score([m for _, m, _ in new]) if new else pd.DataFrame()
        for i, (smi, _, tokens) in enumerate(new):
            seen[smi] = generation
            tokens_of[smi] = tokens
            row = {"smiles": smi, "generation": generation, "is_seed": smi in seed_smiles,
                   **{str(k): v for k, v in scores.iloc[i].items()}}  # fmt: skip
            row["novel"] = not row["is_seed"] and row.get("nn_similarity", 0.0) < 1.0 - 1e-9
            rows[smi] = row

    def n_novel(smiles: Sequence[str]) -> int:
        return sum(bool(rows[s]["novel"]) for s in smiles)

    # generation 0: the seeds and mutants of them
    start: list[tuple[str, Mol, list[str]]] = []
    for smi, mol, tokens in zip(seed_smiles, seed_mols, seed_tokens, strict=True):
        if smi not in [s for s, _, _ in start]:
            start.append((smi, mol, tokens))
    proposed = 0
    distinct: dict[str, tuple[Mol, list[str]]] = {}
    valid0 = 0
    while len(start) + len(distinct) < population and proposed < 20 * population:
        child = list(rng.choice(seed_tokens))
        for _ in range(rng.randint(1, max_mutations)):
            child = _mutate(child, alphabet, rng)
        got = decode(child)
        proposed += 1
        if got is None:
            continue
        valid0 += 1
        if got[0] not in distinct and got[0] not in seed_smiles:
            distinct[got[0]] = (got[1], child)
    batch0 = start + [(s, m, t) for s, (m, t) in distinct.items()]
    evaluate(batch0, 0)
    history = [_history_row(0, proposed, valid0, len(distinct), n_novel(list(distinct)),
                            [rows[s]["objective"] for s, _, _ in batch0])]  # fmt: skip
    pop = sorted((s for s, _, _ in batch0), key=lambda s: -rows[s]["objective"])[:population]
    if progress is not None:
        progress("generating", 0, generations)

    for gen in range(1, generations + 1):
        parents = pop
        children: dict[str, tuple[Mol, list[str]]] = {}
        valid = 0
        for _ in range(offspring):
            picks = [rng.choice(parents) for _ in range(3)]
            winner = max(picks, key=lambda s: rows[s]["objective"])
            other = max((rng.choice(parents) for _ in range(3)), key=lambda s: rows[s]["objective"])
            child = make_child([winner, other])
            got = decode(child)
            if got is None:
                continue
            valid += 1
            if got[0] not in children:
                children[got[0]] = (got[1], child)
        fresh = [(s, m, t) for s, (m, t) in children.items() if s not in seen]
        evaluate(fresh, gen)
        pool = list(dict.fromkeys(pop + [s for s, _, _ in fresh]))
        pop = sorted(pool, key=lambda s: -rows[s]["objective"])[:population]
        history.append(_history_row(gen, offspring, valid, len(children), n_novel(list(children)),
                                    [rows[s]["objective"] for s in pop]))  # fmt: skip
        if progress is not None:
            progress("generating", gen, generations)

    cand = pd.DataFrame(list(rows.values()))
    cand = cand.sort_values(["objective", "smiles"], ascending=[False, True], kind="stable")
    first = ["smiles", "objective", "generation", "is_seed", "novel"]
    cand = cand[first + [c for c in cand.columns if c not in first]].reset_index(drop=True)
    options = {"generations": generations, "population": population, "offspring": offspring,
               "crossover": crossover, "max_mutations": max_mutations, "min_atoms": min_atoms,
               "max_atoms": max_atoms, "seed": seed, "weights": objective.weights,
               "direction": objective.direction, "target": objective.target,
               "property_range": objective.property_range,
               "filters": list(objective.filters)}  # fmt: skip
    return GenerationResult(cand, pd.DataFrame(history), options)


def _history_row(gen: int, proposed: int, valid: int, unique: int, novel: int,
                 population_scores: Sequence[float]) -> dict[str, Any]:  # fmt: skip
    scores = np.sort(np.asarray(population_scores, dtype=np.float64))[::-1]
    return {
        "generation": gen,
        "proposed": proposed,
        "valid": valid,
        "unique": unique,
        "novel": novel,
        "validity": valid / proposed if proposed else float("nan"),
        "uniqueness": unique / valid if valid else float("nan"),
        "novelty": novel / unique if unique else float("nan"),
        "best_objective": float(scores[0]) if len(scores) else float("nan"),
        "mean_objective": float(scores.mean()) if len(scores) else float("nan"),
        "top10_objective": float(scores[:10].mean()) if len(scores) else float("nan"),
    }
