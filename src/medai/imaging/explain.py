"""Visual explanations: Grad-CAM and occlusion sensitivity (MONAI), and heatmap overlays."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure
    from torch import nn

__all__ = ["METHODS", "gradcam", "occlusion", "overlay_figure", "overlay_rgb"]

METHODS = ("gradcam", "occlusion")


def gradcam(
    net: nn.Module,
    x: torch.Tensor,
    class_index: int | None,
    layer: str,
    *,
    multilabel: bool = False,
) -> np.ndarray:
    """Grad-CAM heatmaps (MONAI) for one class, or each image's predicted class (``None``).

    The target is the class's log-odds (``logit_k - logsumexp(other logits)``; the logit itself
    for multi-label), not its raw logit: with softmax outputs only logit differences matter, and
    the gradient of one logit can point away from the evidence; nor its log-probability, whose
    gradient vanishes for confident predictions.

    Runs on a copy of the network, so the hooks Grad-CAM registers never stay on the model
    (they would break TorchScript export).

    Parameters
    ----------
    x
        Normalised input batch of shape (B, C, H, W).

    Returns
    -------
    numpy.ndarray
        Heatmaps of shape (B, H, W), each scaled to [0, 1].
    """
    import copy

    from monai.visualize import GradCAM

    wrapped = _LogProb(copy.deepcopy(net).eval(), multilabel)
    # MONAI's default post-processing maps (min, max) to (1, 0), i.e. flips the map; keep the
    # raw upsampled map and scale it ourselves so 1 = most evidence for the class
    cam = GradCAM(nn_module=wrapped, target_layers=f"net.{layer}", postprocessing=lambda m: m)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        maps = cam(x, class_idx=class_index).detach().numpy()[:, 0]
    return _rescale(maps)


def _log_prob_module() -> type:
    import torch
    from torch import nn

    class LogProb(nn.Module):
        def __init__(self, net: nn.Module, multilabel: bool) -> None:
            super().__init__()
            self.net = net
            self.multilabel = multilabel

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = self.net(x)
            if self.multilabel or logits.shape[1] < 2:
                return logits  # already the log-odds of each label
            # log-odds of class k: logit_k - logsumexp(other logits)
            k = logits.shape[1]
            others = logits.unsqueeze(1).expand(-1, k, k).clone()
            others[:, torch.arange(k), torch.arange(k)] = float("-inf")
            return logits - torch.logsumexp(others, dim=2)

    return LogProb


def _LogProb(net: nn.Module, multilabel: bool) -> nn.Module:
    module: nn.Module = _log_prob_module()(net, multilabel)
    return module


def occlusion(net: nn.Module, x: torch.Tensor, class_index: int) -> np.ndarray:
    # one image at a time: the class may differ per image
    """Occlusion sensitivity: how much the class probability drops when a patch is hidden.

    Returns heatmaps of shape (B, H, W) scaled to [0, 1] (1 = hiding it hurts most).
    """
    import torch
    from monai.visualize import OcclusionSensitivity

    net.eval()
    size = x.shape[-1]
    occ = OcclusionSensitivity(
        nn_module=net, mask_size=max(3, size // 8), n_batch=64, overlap=0.5, verbose=False
    )
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MONAI's own indexing deprecation notice
        base = torch.softmax(net(x), dim=1)[:, class_index].numpy()
        maps, _ = occ(x)
    # MONAI returns the logits with each region occluded; turn them into probability drops
    probs = torch.softmax(maps, dim=1)[:, class_index].numpy()
    return _rescale(base[:, None, None] - probs)


def _rescale(maps: np.ndarray) -> np.ndarray:
    out = np.zeros_like(maps, dtype=np.float32)
    for i, m in enumerate(maps):
        lo, hi = float(m.min()), float(m.max())
        out[i] = (m - lo) / (hi - lo) if hi > lo else 0.0
    return out


def overlay_rgb(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a heatmap (H, W) in [0, 1] over an image (C, H, W) uint8 -> RGB uint8 (H, W, 3)."""
    from matplotlib import colormaps

    base = image.astype(np.float32) / 255.0
    base = np.repeat(base, 3, axis=0) if base.shape[0] == 1 else base[:3]
    heat = colormaps["jet"](heatmap)[..., :3].transpose(2, 0, 1)
    blend = (1 - alpha) * base + alpha * heat
    return np.asarray((blend.transpose(1, 2, 0) * 255).round().astype(np.uint8))


def overlay_figure(image: np.ndarray, heatmap: np.ndarray, title: str) -> Figure:
    """Side-by-side figure: the image and its heatmap overlay."""
    from medai.core.report import _plt

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    grey = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    axes[0].imshow(grey, cmap="gray" if image.shape[0] == 1 else None)
    axes[0].set_title("image")
    axes[1].imshow(overlay_rgb(image, heatmap))
    axes[1].set_title(title)
    for ax in axes:
        ax.axis("off")
    return fig
