"""Tests of the passes stage."""
