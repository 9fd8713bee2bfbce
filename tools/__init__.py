"""Maintainer and test tools of the keras-genae repository (not in the wheel)."""
