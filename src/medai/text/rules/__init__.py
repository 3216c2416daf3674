"""Bundled rules and lexicons for the text pillar (data files only)."""
