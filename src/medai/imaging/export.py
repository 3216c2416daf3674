"""Exporting a bundle's network to ONNX or TorchScript, checked against torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from medai.core.errors import InvalidInputError, MedaiError, require
from medai.imaging.model import ImageBundle

__all__ = ["FORMATS", "export"]

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4


def export(bundle: ImageBundle, fmt: str, out: str | Path, *, seed: int = 0) -> float:
    """Write the network (input: normalised images (B, C, S, S); output: logits (B, K)).

    The exported model is run on a seeded random batch and compared with torch; returns the
    largest absolute difference of the logits and refuses (nothing written) above 1e-4.
    """
    import torch

    if fmt not in FORMATS:
        raise InvalidInputError(f"export format {fmt!r}; use one of {FORMATS}")
    out = Path(out)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (4, bundle.channels, bundle.size, bundle.size), dtype=np.uint8)
    x = bundle.tensor(images)
    net = bundle.net.eval()
    with torch.no_grad():
        expected = net(x).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "onnx":
            require("onnxruntime", "imaging")
            import onnxruntime as ort

            with warnings.catch_warnings():
                # the TorchScript-based exporter is deprecated in torch 2.13 but exact, quiet
                # and dependency-free; the dynamo exporter logs warnings about torchvision
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(
                    net, (x,), str(tmp), input_names=["image"], output_names=["logits"],
                    dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=17, dynamo=False,
                )  # fmt: skip
            session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
            got = session.run(["logits"], {"image": x.numpy()})[0]
        else:
            with warnings.catch_warnings():
                # torch 2.13 marks TorchScript deprecated; it still serves C++/mobile runtimes
                warnings.simplefilter("ignore", DeprecationWarning)
                traced = torch.jit.trace(net, x)
                traced.save(str(tmp))
                with torch.no_grad():
                    got = torch.jit.load(str(tmp)).eval()(x).numpy()
        diff = float(np.max(np.abs(got - expected)))
        if diff > TOLERANCE:
            raise MedaiError(f"the {fmt} export differs from torch by {diff:.2e} (> {TOLERANCE})")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return diff
