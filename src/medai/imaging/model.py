"""The imaging bundle: a CNN (safetensors weights) with its input contract, predict, explain."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medai.core.bundle import Bundle
from medai.core.errors import BundleError, DataFileError, InvalidInputError, require

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["ImageBundle", "collect_files", "load_inputs"]

WEIGHTS = "model.safetensors"


def collect_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into image files medai can read, sorted."""
    from medai.imaging.io import IMAGE_SUFFIXES, NIFTI_SUFFIXES, is_dicom

    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataFileError(f"{str(p)!r} does not exist")
        if p.is_file():
            out.append(p)
            continue
        for f in sorted(p.rglob("*")):
            name = f.name.lower()
            if (
                f.is_file()
                and not name.startswith(".")
                and (name.endswith(IMAGE_SUFFIXES + NIFTI_SUFFIXES) or is_dicom(f))
            ):
                out.append(f)
    if not out:
        raise DataFileError(f"no image files found in {[str(p) for p in paths]}")
    return out


def load_inputs(
    files: Sequence[Path], size: int, channels: int, window: tuple[float, float] | None
) -> np.ndarray:
    """Read and prepare files into a uint8 batch (N, channels, size, size)."""
    from medai.imaging.io import prepare, read_image

    return np.stack([prepare(read_image(f, window=window), size, channels) for f in files])


class ImageBundle(Bundle):
    """A trained image classifier. Make one with :func:`medai.imaging.train`."""

    pillar = "imaging"

    def __init__(self, card: dict[str, Any], net: nn.Module, report_html: str | None = None):
        super().__init__(card, report_html)
        self.net = net
        self.net.eval()

    # -- input contract ----------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return list(self.card["output"]["classes"])

    @property
    def task(self) -> str:
        return str(self.card["task"])

    @property
    def size(self) -> int:
        return int(self.card["input"]["size"])

    @property
    def channels(self) -> int:
        return int(self.card["input"]["channels"])

    @property
    def window(self) -> tuple[float, float] | None:
        w = self.card["input"].get("window")
        return (float(w[0]), float(w[1])) if w else None

    @property
    def layer(self) -> str:
        return str(self.card["model"]["cam_layer"])

    def tensor(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, C, H, W) -> normalised float tensor, after checking the shape."""
        import torch

        if images.ndim != 4 or images.shape[1:] != (self.channels, self.size, self.size):
            raise InvalidInputError(
                f"images of shape {tuple(images.shape[1:])} given; this model expects "
                f"({self.channels}, {self.size}, {self.size})"
            )
        mean = torch.tensor(self.card["input"]["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(self.card["input"]["std"]).view(1, -1, 1, 1)
        return (torch.from_numpy(images).float() / 255.0 - mean) / std

    # -- verbs -------------------------------------------------------------------------------
    def predict_arrays(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities (N, K) for prepared uint8 images (N, C, H, W)."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                logits = self.net(self.tensor(images[i : i + batch_size]))
                probs = torch.sigmoid(logits) if self.task == "multilabel" else logits.softmax(1)
                out.append(probs.numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)))

    def predict(self, x: Any, *, window: tuple[float, float] | None = None) -> pd.DataFrame:
        """Class probabilities for image files/folders (DICOM included) or a uint8 batch.

        Returns
        -------
        pandas.DataFrame
            One row per image: ``file`` (when files were given), ``prob_<class>`` per class and
            ``predicted`` (the most probable class; for multi-label, the classes >= 0.5).
        """
        files: list[Path] | None = None
        if isinstance(x, np.ndarray):
            images = x
        else:
            files = collect_files([x] if isinstance(x, str | Path) else list(x))
            images = load_inputs(files, self.size, self.channels, window or self.window)
        probs = self.predict_arrays(images)
        df = pd.DataFrame(probs, columns=[f"prob_{c}" for c in self.classes])
        if self.task == "multilabel":
            df["predicted"] = ["|".join(c for c, p in zip(self.classes, row, strict=True) if p >= 0.5)
                               for row in probs]  # fmt: skip
        else:
            df["predicted"] = [self.classes[i] for i in probs.argmax(1)]
        if files is not None:
            df.insert(0, "file", [str(f) for f in files])
        return df

    def explain(
        self,
        x: np.ndarray,
        *,
        method: str = "gradcam",
        class_index: int | None = None,
        layer: str | None = None,
    ) -> np.ndarray:
        """Heatmaps (N, H, W) in [0, 1] for prepared uint8 images (N, C, H, W).

        ``class_index`` defaults to each image's predicted class (computed per image).
        """
        from medai.imaging.explain import METHODS, gradcam, occlusion
        from medai.imaging.nets import check_layer

        if method not in METHODS:
            raise InvalidInputError(f"explanation method {method!r}; use one of {METHODS}")
        if layer is not None:
            check_layer(self.net, layer)
        if class_index is not None and not 0 <= class_index < len(self.classes):
            raise InvalidInputError(
                f"class index {class_index} is out of range 0..{len(self.classes) - 1}"
            )
        if method == "gradcam":
            return gradcam(
                self.net, self.tensor(x), class_index, layer or self.layer,
                multilabel=self.task == "multilabel",
            )  # fmt: skip
        probs = self.predict_arrays(x)
        maps = []
        for i in range(len(x)):
            k = int(probs[i].argmax()) if class_index is None else class_index
            maps.append(occlusion(self.net, self.tensor(x[i : i + 1]), k)[0])
        return np.stack(maps)

    # -- persistence -------------------------------------------------------------------------
    def _to_files(self) -> dict[str, bytes]:
        from safetensors.torch import save

        state = {k: v.contiguous() for k, v in self.net.state_dict().items()}
        return {WEIGHTS: bytes(save(state))}

    @classmethod
    def _from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> ImageBundle:
        require("torch", "imaging")
        from safetensors.torch import load

        from medai.imaging.nets import build_network

        try:
            net = build_network(
                card["model"]["network"], card["input"]["channels"],
                len(card["output"]["classes"]), card["input"]["size"],
            )  # fmt: skip
            net.load_state_dict(load(files[WEIGHTS]))
        except (KeyError, RuntimeError, ValueError) as exc:
            raise BundleError(f"the imaging bundle's card or weights are invalid ({exc})") from None
        return cls(card, net)
