"""Medical image classification: train, validate, explain (Grad-CAM) and export CNNs.

Needs the ``imaging`` extra (torch, MONAI, pydicom, nibabel, Pillow, ONNX Runtime).
"""
