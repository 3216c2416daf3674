"""Network registry: a compact CNN for small images and MONAI's ResNet, DenseNet, EfficientNet.

Every network maps a batch ``(B, C, H, W)`` to logits ``(B, K)``; binary tasks use K = 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from torch import nn

__all__ = ["NETWORKS", "build_network", "cam_layer", "default_network", "load_initial_weights"]

NETWORKS = ("cnn", "resnet18", "resnet50", "densenet121", "efficientnet-b0")


def default_network(size: int) -> str:
    """``cnn`` for images up to 64 pixels, ``resnet18`` above."""
    return "cnn" if size <= 64 else "resnet18"


def _compact_cnn(in_channels: int, n_classes: int) -> nn.Module:
    from torch import nn

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    features = nn.Sequential(
        *block(in_channels, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        *block(64, 128), *block(128, 128),
    )  # fmt: skip
    head = nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, n_classes)
    )
    return nn.Sequential(features, head)


def build_network(name: str, in_channels: int, n_classes: int, size: int = 64) -> nn.Module:
    """A freshly initialised network (seed torch before calling for reproducibility).

    Parameters
    ----------
    name
        One of :data:`NETWORKS`.
    in_channels
        1 (grey) or 3 (RGB).
    n_classes
        Number of output logits.
    size
        Input side in pixels: ResNets use the usual stride-2 stem from 64 pixels up (4x
        faster at 224 px), a stride-1 stem on smaller images.
    """
    require("monai", "imaging")
    from monai.networks import nets

    stride = 2 if size >= 64 else 1
    builders: dict[str, Callable[[], Any]] = {
        "cnn": lambda: _compact_cnn(in_channels, n_classes),
        "resnet18": lambda: nets.resnet18(
            spatial_dims=2, n_input_channels=in_channels, num_classes=n_classes,
            conv1_t_stride=stride,
        ),
        "resnet50": lambda: nets.resnet50(
            spatial_dims=2, n_input_channels=in_channels, num_classes=n_classes,
            conv1_t_stride=stride,
        ),
        "densenet121": lambda: nets.DenseNet121(
            spatial_dims=2, in_channels=in_channels, out_channels=n_classes
        ),
        "efficientnet-b0": lambda: nets.EfficientNetBN(
            "efficientnet-b0", pretrained=False, spatial_dims=2, in_channels=in_channels,
            num_classes=n_classes,
        ),
    }  # fmt: skip
    if name not in builders:
        raise InvalidInputError(f"network {name!r} is unknown; use one of {NETWORKS}")
    net: nn.Module = builders[name]()
    return net


def cam_layer(net: nn.Module, in_channels: int, size: int) -> str:
    """Name of the layer Grad-CAM should use: the last module (called once) with a spatial map.

    Runs one forward pass on zeros and records, in the order they finish, the modules whose
    output is a 4-D tensor with more than one pixel; containers count too, so a ResNet gets
    ``layer4`` (a block's output), never a layer whose output is later modified in place
    (``out += residual``), which Grad-CAM's hooks cannot follow.
    """
    import torch

    calls: list[str] = []
    hooks = []
    for n, mod in net.named_modules():
        if n:

            def hook(_m: Any, _i: Any, out: Any, n: str = n) -> None:
                if (
                    isinstance(out, torch.Tensor)
                    and out.ndim == 4
                    and out.shape[-1] * out.shape[-2] > 1
                ):
                    calls.append(n)

            hooks.append(mod.register_forward_hook(hook))
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, in_channels, size, size))
    except RuntimeError as exc:
        raise InvalidInputError(
            f"{size}x{size}-pixel images are too small for this network ({exc}); use a larger "
            "--size or the compact 'cnn'"
        ) from None
    finally:
        for h in hooks:
            h.remove()
        net.train(was_training)
    once = [n for n in calls if calls.count(n) == 1]
    if not once:
        raise InvalidInputError("the network has no convolutional layer for Grad-CAM")
    return once[-1]


def check_layer(net: nn.Module, layer: str) -> None:
    """Refuse a layer name the network does not have, listing some valid ones."""
    names = [n for n, _ in net.named_modules() if n]
    if layer not in names:
        convs = [n for n, m in net.named_modules() if type(m).__name__ == "Conv2d"][-5:]
        raise InvalidInputError(
            f"layer {layer!r} is not in this network; e.g. {convs} (or omit --layer to choose "
            "automatically)"
        )


def load_initial_weights(net: nn.Module, path: str | Path) -> list[str]:
    """Load pretrained weights from a local file (safetensors or torch ``weights_only``).

    Tensors whose name or shape does not match (e.g. a classifier head with another number of
    classes) are skipped; returns their names. Never unpickles arbitrary objects.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"initial weights {str(path)!r} do not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InvalidInputError(
            f"cannot read initial weights {str(path)!r} ({type(exc).__name__}); expected a "
            "safetensors file or a torch state_dict saved with plain tensors"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InvalidInputError(f"initial weights {str(path)!r} do not hold a state_dict")
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise InvalidInputError(
            f"no tensor in {str(path)!r} matches this network's layers; is it for another network?"
        )
    net.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))
