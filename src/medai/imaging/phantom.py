"""A seeded synthetic "phantom" data set for offline demos and tests: nodule vs no nodule.

Each image is a smooth random texture (low-pass filtered noise, like parenchyma) inside an
elliptical "body"; half the images carry a small bright Gaussian "nodule" of random size,
position and contrast. The task is learnable but not trivial at low contrast. It is SYNTHETIC:
bundles trained on it say so in their card and report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from medai.imaging.data import ImageSet

__all__ = ["phantom"]


def phantom(n: int = 600, size: int = 32, *, seed: int = 0) -> ImageSet:
    """Generate ``n`` grey images (uint8, shape (n, 1, size, size)), classes no_nodule/nodule.

    Also gives each image a synthetic patient id (two images per patient) so patient-level
    splitting is exercised.
    """
    from scipy.ndimage import gaussian_filter

    from medai.imaging.data import ImageSet

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    body = (((xx - c) / (0.46 * size)) ** 2 + ((yy - c) / (0.40 * size)) ** 2) <= 1.0
    labels = np.tile([0, 1], n // 2 + 1)[:n]
    rng.shuffle(labels)
    images = np.empty((n, 1, size, size), dtype=np.uint8)
    for i in range(n):
        tex = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 16)
        tex = (tex - tex.min()) / (np.ptp(tex) + 1e-9)
        img = np.where(body, 0.25 + 0.35 * tex, 0.05)
        if labels[i]:
            r = rng.uniform(0.04, 0.09) * size
            angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.25 * size)
            cy, cx = c + dist * np.sin(angle), c + dist * np.cos(angle)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r**2))
            img = img + rng.uniform(0.08, 0.3) * blob
        img = img + rng.normal(0, 0.05, img.shape)
        images[i, 0] = np.clip(img * 255, 0, 255).round().astype(np.uint8)
    return ImageSet(
        images=images,
        labels=labels.astype(np.int64),
        classes=["no_nodule", "nodule"],
        task="binary",
        groups=np.array([f"P{i // 2:04d}" for i in range(n)]),
        source=f"synthetic phantom (n={n}, size={size}, seed={seed})",
    )
