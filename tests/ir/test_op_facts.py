"""Every fact about an op lives in its class and is checked when it is registered."""

from __future__ import annotations

import pytest

from archspec.backends.pytorch.parts import StatelessModules, has_state
from archspec.ops import OPS, Attr, Op
from archspec.ops.base import Weightless, register


class _Scaled(Op):
    """A made-up op with a weight and no inferred attribute (a learned per-tensor scale)."""

    name = "scaled_for_test"
    attrs = {"init": Attr("float", 1.0)}
    output_for_backward = False

    def infer(self, attrs, inputs):
        return inputs[0]

    def params(self, attrs):
        return 1

    def macs(self, attrs, inputs, output):
        return 0

    def other_ops(self, attrs, inputs, output):
        return 0

    def rf(self, attrs, inputs):
        return "pointwise"

    def emit(self, args):
        return "Scale()"


def test_register_refuses_an_op_that_does_not_say_whether_autograd_keeps_its_output() -> None:
    class Undeclared(_Scaled):
        name = "undeclared_for_test"
        output_for_backward = None

    with pytest.raises(TypeError, match="output_for_backward"):
        register(Undeclared)
    assert "undeclared_for_test" not in OPS


def test_every_registered_op_declares_it() -> None:
    assert all(isinstance(op.output_for_backward, bool) for op in OPS.values())
    assert not OPS["conv"].output_for_backward and OPS["relu"].output_for_backward


def test_an_op_with_weights_never_shares_its_module() -> None:
    reuse = StatelessModules()
    op = _Scaled()
    assert has_state(op) and not has_state(OPS["relu"]) and isinstance(OPS["relu"], Weightless)
    assert reuse.attribute(False, op, "scale1", "Scale()") == "scale1"
    assert reuse.attribute(False, op, "scale2", "Scale()") == "scale2"  # not the first one's module
    assert reuse.attribute(False, OPS["relu"], "relu", "nn.ReLU()") == "relu"
    assert reuse.attribute(False, OPS["relu"], "relu2", "nn.ReLU()") == "relu"
