"""Bundled prompt sets, installed as ``drawbench.data`` (see README.md in this folder)."""
