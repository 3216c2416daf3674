"""Training, predicting, explaining and exporting image classifiers on real components."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from medai.core.errors import BundleError, InvalidInputError  # noqa: E402
from medai.imaging.data import ImageSet  # noqa: E402
from medai.imaging.model import ImageBundle  # noqa: E402
from medai.imaging.phantom import phantom  # noqa: E402
from medai.imaging.train import evaluate, train  # noqa: E402

FAST = {"epochs": 4, "patience": 2, "n_boot": 50, "seed": 0}


@pytest.fixture(scope="module")
def phantom_set() -> ImageSet:
    return phantom(400, 32, seed=1)


@pytest.fixture(scope="module")
def bundle(phantom_set: ImageSet) -> ImageBundle:
    return train(phantom_set, synthetic=True, **{**FAST, "epochs": 8, "patience": 3})


def test_card_report_and_learning(bundle: ImageBundle) -> None:
    card = bundle.card
    assert card["pillar"] == "imaging" and card["task"] == "binary"
    assert card["training_data"]["synthetic"] is True
    assert card["model"]["network"] == "cnn"
    assert 1 <= card["model"]["best_epoch"] <= card["model"]["epochs_run"] <= 8
    assert card["metrics"]["test"]["auroc"]["estimate"] > 0.7  # learns in 8 epochs
    assert "accuracy" in card["metrics"]["test"]
    html = bundle.report_html or ""
    for alt in (
        "ROC curve",
        "confusion matrix",
        "calibration curve",
        "Grad-CAM grid",
        "training curves",
    ):
        assert f'alt="{alt}"' in html
    assert "SYNTHETIC" in html


def test_patient_level_split(phantom_set: ImageSet) -> None:
    from medai.imaging.train import _split

    idx = _split(phantom_set, 0.15, 0.15, seed=0)
    groups = phantom_set.groups
    assert groups is not None
    parts = {k: set(groups[v]) for k, v in idx.items()}
    assert not parts["train"] & parts["test"] and not parts["train"] & parts["val"]
    assert sum(len(v) for v in idx.values()) == len(phantom_set.labels)


def test_deterministic(phantom_set: ImageSet) -> None:
    a = train(phantom_set.subset(np.arange(120)), **{**FAST, "epochs": 2})
    b = train(phantom_set.subset(np.arange(120)), **{**FAST, "epochs": 2})
    for k, v in a.net.state_dict().items():
        assert torch.equal(v, b.net.state_dict()[k]), k


def test_save_load_predict(bundle: ImageBundle, phantom_set: ImageSet, tmp_path: Path) -> None:
    from PIL import Image

    path = bundle.save(tmp_path / "b")
    loaded = ImageBundle.load(path)
    x = phantom_set.images[:8]
    np.testing.assert_allclose(loaded.predict_arrays(x), bundle.predict_arrays(x), atol=1e-6)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(x[i, 0]).save(folder / f"img{i}.png")
    preds = loaded.predict([folder])
    assert list(preds.columns) == ["file", "prob_no_nodule", "prob_nodule", "predicted"]
    assert len(preds) == 3
    np.testing.assert_allclose(preds[["prob_no_nodule", "prob_nodule"]].sum(axis=1), 1.0, atol=1e-6)


def test_dicom_prediction(bundle: ImageBundle) -> None:
    from pydicom.data import get_testdata_file

    preds = bundle.predict(get_testdata_file("CT_small.dcm"), window=(1500, -600))
    assert len(preds) == 1 and preds["predicted"].iloc[0] in bundle.classes


def test_gradcam_and_occlusion(bundle: ImageBundle, phantom_set: ImageSet) -> None:
    x = phantom_set.images[:4]
    cam = bundle.explain(x)
    assert cam.shape == (4, 32, 32) and cam.min() >= 0 and cam.max() <= 1
    occ = bundle.explain(x[:1], method="occlusion", class_index=1)
    assert occ.shape == (1, 32, 32)
    # the evidence for "nodule" lies inside the body (where nodules are), not in the corners
    probs = bundle.predict_arrays(phantom_set.images)[:, 1]
    top = np.argsort(-probs)[:8]
    cam = bundle.explain(phantom_set.images[top], class_index=1)
    assert cam[:, 10:22, 10:22].mean() > 2 * cam[:, :5, :5].mean() + 0.05
    occ = bundle.explain(phantom_set.images[top[:3]], method="occlusion", class_index=1)
    assert occ[:, 10:22, 10:22].mean() > occ[:, :5, :5].mean()
    with pytest.raises(InvalidInputError, match=r"layer 'nope' is not in this network"):
        bundle.explain(x, layer="nope")
    with pytest.raises(InvalidInputError, match="method"):
        bundle.explain(x, method="magic")


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_torch(bundle: ImageBundle, fmt: str, tmp_path: Path) -> None:
    from medai.imaging.export import export

    bundle.explain(np.zeros((1, 1, 32, 32), np.uint8))  # hooks of Grad-CAM must not leak
    out = tmp_path / f"model.{fmt}"
    diff = export(bundle, fmt, out)
    assert diff < 1e-4 and out.stat().st_size > 1000
    if fmt == "onnx":
        import onnxruntime as ort

        x = bundle.tensor(np.full((2, 1, 32, 32), 128, np.uint8))
        got = ort.InferenceSession(str(out)).run(None, {"image": x.numpy()})[0]
        np.testing.assert_allclose(got, bundle.net(x).detach().numpy(), atol=1e-4)


def test_multiclass_and_multilabel() -> None:
    rng = np.random.default_rng(0)
    n = 240
    labels = np.repeat([0, 1, 2], n // 3)
    images = rng.integers(0, 60, (n, 1, 16, 16)).astype(np.uint8)
    for i, k in enumerate(labels):  # a bright square whose position gives the class
        images[i, 0, 2 + 4 * k : 6 + 4 * k, 4:10] = 230
    ims = ImageSet(images, labels, ["a", "b", "c"], "multiclass", source="squares")
    b = train(ims, **FAST)
    assert b.card["metrics"]["test"]["auroc"]["estimate"] > 0.8
    assert set(b.card["metrics"]["test"]) == {"auroc", "accuracy", "f1"}
    multi = np.stack([labels == 0, labels != 2], 1).astype(np.uint8)
    ml = train(ImageSet(images, multi, ["x", "y"], "multilabel", source="squares"), **FAST)
    assert ml.predict_arrays(images[:3]).shape == (3, 2)


@pytest.mark.parametrize("network", ["resnet18", "densenet121", "efficientnet-b0"])
def test_monai_networks_train_explain_and_reload(network: str, tmp_path: Path) -> None:
    ims = phantom(48, 32, seed=2)
    b = train(ims, network=network, **{**FAST, "epochs": 1})
    assert b.card["model"]["network"] == network
    maps = b.explain(ims.images[:2])
    assert maps.shape == (2, 32, 32)
    if network == "densenet121":
        with pytest.raises(InvalidInputError, match="too small for this network"):
            train(phantom(48, 16), network=network, **{**FAST, "epochs": 1})
    again = ImageBundle.load(b.save(tmp_path / network))
    np.testing.assert_allclose(
        again.predict_arrays(ims.images[:4]), b.predict_arrays(ims.images[:4]), atol=1e-6
    )


def test_initial_weights(bundle: ImageBundle, phantom_set: ImageSet, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    w = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in bundle.net.state_dict().items()}, str(w))
    b = train(phantom_set, init_weights=w, **{**FAST, "epochs": 1})
    assert b.card["model"]["init_weights"] == "w.safetensors"
    bad = tmp_path / "w.pt"
    bad.write_bytes(b"not weights")
    with pytest.raises(InvalidInputError, match="cannot read initial weights"):
        train(phantom_set, init_weights=bad, **FAST)


def test_bundle_tampering_and_bad_options(bundle: ImageBundle, tmp_path: Path) -> None:
    path = bundle.save(tmp_path / "b")
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        ImageBundle.load(path)
    with pytest.raises(InvalidInputError, match=r"modality 'sonar' is unknown"):
        train(phantom(40, 16), modality="sonar")
    with pytest.raises(InvalidInputError, match=r"network 'vgg' is unknown"):
        train(phantom(40, 16), network="vgg")
    with pytest.raises(InvalidInputError, match=r"expects \(1, 32, 32\)"):
        bundle.predict_arrays(np.zeros((1, 3, 32, 32), np.uint8))


def test_evaluate_on_npz(bundle: ImageBundle, phantom_set: ImageSet, tmp_path: Path) -> None:
    p = tmp_path / "ph.npz"
    x = phantom_set.images[:, 0]
    y = phantom_set.labels[:, None].astype(np.uint8)
    np.savez(p, train_images=x[:100], train_labels=y[:100], val_images=x[100:150],
             val_labels=y[100:150], test_images=x[150:], test_labels=y[150:])  # fmt: skip
    metrics, report = evaluate(bundle, p, n_boot=50)
    assert metrics["auroc"].n == len(x) - 150
    assert "External validation" in report.to_html()
