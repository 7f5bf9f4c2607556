"""split names one channel count per output it has: piece_channels lists exactly the outputs output_names
lists, also where the number of pieces is not known (a chunk count given as a block parameter)."""

from __future__ import annotations

import pytest

from archspec.ops import OPS


@pytest.mark.parametrize("attrs", [
    {"sizes": (2, 6), "chunks": None},
    {"sizes": None, "chunks": 3},
    {"sizes": None, "chunks": None},  # neither known here: no pieces to name
    {},
])
def test_split_names_the_channels_of_each_output(attrs: dict) -> None:
    split = OPS["split"]
    assert len(split.piece_channels(attrs)) == len(split.output_names(attrs))


def test_split_piece_channels_read_the_sizes_or_the_chunks() -> None:
    split = OPS["split"]
    assert split.piece_channels({"sizes": (2, 6)}) == ["sizes[0]", "sizes[1]"]
    assert split.piece_channels({"sizes": None, "chunks": 2}) == ["in_channels // chunks"] * 2
