"""Tests of the backends stage."""
