"""Model-guided generation: SELFIES genetic algorithm, objective, reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from medai.core.errors import InvalidInputError
from medai.molecules.generate import Objective, generate, parse_weights

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
NO_MODEL = "qed=1,sa=0.5,filters=0.5,similarity=0.5"


def test_weights_parse_and_check() -> None:
    assert parse_weights("qed=2, sa=1") == {"property": 0.0, "qed": 2.0, "sa": 1.0,
                                            "filters": 0.0, "similarity": 0.0}  # fmt: skip
    assert parse_weights(None)["property"] == 1.0
    for bad, msg in [("qed", "NAME=NUMBER"), ("qed=x", "not a number"), ("logp=1", "unknown"),
                     ("qed=-1", ">= 0"), ("qed=0", "every objective weight is 0")]:  # fmt: skip
        with pytest.raises(InvalidInputError, match=msg):
            parse_weights(bad)


def test_generation_improves_objective_and_is_reproducible() -> None:
    kwargs = dict(weights=NO_MODEL, generations=6, population=30, offspring=60, seed=3)
    run = generate([ASPIRIN], **kwargs)
    h = run.history
    assert h["generation"].tolist() == list(range(7))
    assert (h["validity"] > 0.5).all() and (h["uniqueness"] > 0.5).all()
    assert h["novelty"].between(0, 1).all()
    # (mu + lambda) selection never loses the best, and the population improves
    assert (np.diff(h["best_objective"]) >= -1e-12).all()
    assert h["mean_objective"].iloc[-1] > h["mean_objective"].iloc[0]
    cand = run.candidates
    assert cand["objective"].is_monotonic_decreasing
    assert cand["smiles"].is_unique
    for smi in cand["smiles"].head(20):
        mol = Chem.MolFromSmiles(smi)
        assert mol is not None and "." not in smi and mol.GetNumHeavyAtoms() <= 50
    seed_row = cand[cand["is_seed"]]
    assert len(seed_row) == 1 and seed_row["similarity"].iloc[0] == pytest.approx(1.0)
    assert not seed_row["novel"].iloc[0]
    # the objective is the weighted mean of its components
    w = parse_weights(NO_MODEL)
    expect = sum(w[c] * cand[c] for c in w) / sum(w.values())
    np.testing.assert_allclose(cand["objective"], expect)
    again = generate([ASPIRIN], **kwargs)
    assert again.candidates["smiles"].tolist() == cand["smiles"].tolist()
    other = generate([ASPIRIN], **{**kwargs, "seed": 4})
    assert other.candidates["smiles"].tolist() != cand["smiles"].tolist()
    html = run.report().to_html()
    assert "Validity, uniqueness and novelty" in html and "<svg" in html


def test_property_objective_steers_the_search(nci_logp: Path) -> None:
    pytest.importorskip("lightgbm")
    from medai.molecules.train import train

    model = train(nci_logp, targets=["logp"], model="lightgbm", features="morgan_counts",
                  n_boot=0)  # fmt: skip
    seeds = ["OC(=O)c1ccccc1N", "OCC(O)CO"]
    common = dict(generations=6, population=30, offspring=60, seed=0, bundle=model,
                  property_range=(-2.0, 6.0))  # fmt: skip
    up = generate(seeds, weights="property=1", direction="max", **common).candidates
    down = generate(seeds, weights="property=1", direction="min", **common).candidates
    # maximising predicted logP finds more lipophilic molecules than minimising it
    assert up["pred_logp"].head(10).mean() > down["pred_logp"].head(10).mean() + 1.0
    assert "nn_similarity" in up.columns and up["nn_similarity"].between(0, 1).all()
    # without a range: the training labels' mean +- 2 sd, recorded in the card
    stats = model.card["training_data"]["label_stats"]["logp"]
    auto = Objective([Chem.MolFromSmiles("CCO")], bundle=model, weights="property=1")
    assert auto.property_range == pytest.approx(
        (stats["mean"] - 2 * stats["std"], stats["mean"] + 2 * stats["std"])
    )
    del model.card["training_data"]["label_stats"]
    with pytest.raises(InvalidInputError, match="property range"):
        Objective([Chem.MolFromSmiles("CCO")], bundle=model, weights="property=1")
    with pytest.raises(InvalidInputError, match="lo < hi"):
        Objective([Chem.MolFromSmiles("CCO")], bundle=model, property_range=(3, 1))
    with pytest.raises(InvalidInputError, match="not one of"):
        Objective([Chem.MolFromSmiles("CCO")], bundle=model, target="x", property_range=(0, 1))


def test_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="needs a trained model"):
        generate([ASPIRIN], generations=1)  # default weights include the property
    with pytest.raises(InvalidInputError, match="seed 2"):
        generate([ASPIRIN, "C1CC"], weights=NO_MODEL)
    with pytest.raises(InvalidInputError, match="population"):
        generate([ASPIRIN], weights=NO_MODEL, population=1)
    with pytest.raises(InvalidInputError, match="no seed"):
        generate([], weights=NO_MODEL)
    with pytest.raises(InvalidInputError, match="direction"):
        generate([ASPIRIN], weights=NO_MODEL, direction="up")
