"""Shared pieces every pillar uses: errors, bundles, metrics, reports, datasets.

Nothing here imports a pillar.
"""
