"""Docs tier: the docs' `bash run` blocks executed, and checks that docs match code."""
