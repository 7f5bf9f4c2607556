"""The op registry refuses an op that leaves a rule out, a name registered twice, and the old 'group'."""

from __future__ import annotations

import pytest

from archspec.ops import OPS
from archspec.ops.base import Op, register
from archspec.ops.tensor import Identity


def test_an_op_without_every_rule_is_refused() -> None:
    class Half(Op):
        name = "half_op"

        def infer(self, attrs, inputs):
            return inputs[0]

    with pytest.raises(TypeError, match="does not define params, macs, other_ops, rf, emit"):
        register(Half)
    assert "half_op" not in OPS


def test_a_name_registered_twice_is_refused() -> None:
    class Again(Identity):
        pass

    with pytest.raises(TypeError, match="'identity' is registered twice"):
        register(Again)


def test_the_old_group_attribute_is_refused() -> None:
    class Grouped(Identity):
        name = "grouped_op"
        group = "conv"

    with pytest.raises(TypeError, match="sets 'group', which is now called 'category'"):
        register(Grouped)
    assert "grouped_op" not in OPS


def test_a_module_with_a_sequence_form_is_refused() -> None:
    """`sequence_form` is the module standing for an op computed in forward; a module op stands for itself."""
    class Wrapped(Identity):
        name = "wrapped_op"
        module = True
        sequence_form = "nn.Identity()"

    with pytest.raises(TypeError, match="is a module: it needs no 'sequence_form'"):
        register(Wrapped)
    assert "wrapped_op" not in OPS
