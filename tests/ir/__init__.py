"""Tests of the ir stage."""
