"""The statements of a forward method: straight-line, the running value kept in one variable where it can."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...ir.graph import Module
from ...ops import CodeArgs, Op
from ...spec.expr import python_literal
from ..writer import LineWriter, Namespace


@dataclass
class Step:
    """One statement of a forward: `value = call(inputs)`."""

    name: str
    inputs: list[str]
    template: str  # with {0}, {1} … for the inputs
    optional: str | None = None  # attribute of an optional submodule: runs only when it is not None
    flag: str | None = None  # attribute holding whether an optional layer without a module runs
    indices: bool = False  # also returns max-pool indices, read by unpooling as "<name>#indices"
    keys: list[str] | None = None  # several outputs, read as "<name>.<key>": a dict (keyed) or a tuple
    keyed: bool = False
    named: bool = False  # named in the spec: a value that starts no chain keeps that name
    stage: bool = False  # applies a container (a block, a seq): runs of them are set off by blank lines
    in_place: str | None = None  # the statement that overwrites input {0} instead (`{0} += {1}`), where safe


def make_step(name: str, op: Op | None, inputs: list[str], template: str, attrs: dict[str, Any],
               optional: str | None = None, child: Module | None = None, flag: str | None = None,
               named: bool = False, pieces: list[str] | None = None, in_place: str | None = None) -> Step:
    """A forward statement; an unpooling reads its max-pool's indices rather than its values, and a layer
    with several outputs returns them in a dict (named outputs) or a tuple."""
    inputs = list(inputs)
    if op is not None and op.reads_indices is not None:
        inputs[op.reads_indices] += "#indices"
    if child is not None:
        keys = child.output_names() if len(child.outputs) > 1 else None
    else:  # an op's several outputs: known from its attributes, or (in a block class) given
        keys = pieces or (op.output_names(attrs) if op is not None else None)
    keyed = child is not None and keys is not None and child.output_keys is not None
    return Step(name, inputs, template, optional, flag, indices=bool(op is not None and attrs.get("indices")),
                 keys=keys, keyed=keyed, named=named, stage=child is not None, in_place=in_place)


def forward_names(inputs: list[str], reserved: frozenset[str]) -> tuple[Namespace, dict[str, str]]:
    """A forward's local names, its parameters claimed first (a spec's `input` is written `x`)."""
    names = Namespace(reserved)
    return names, {name: names.claim("x" if name == "input" else name) for name in inputs}


def emit_forward(writer: LineWriter, inputs: list[str], steps: list[Step], outputs: list[str],
                  output_keys: list[str] | None, chain: str, reserved: frozenset[str]) -> None:
    """Write a forward body: straight-line statements, the running value in one variable where possible."""
    names, var = forward_names(inputs, reserved)
    several = {step.name: step for step in steps if step.keys}
    last_use: dict[str, int] = {}
    readers: dict[str, set[int]] = {}
    for index, step in enumerate(steps):
        for source in step.inputs:
            source = holding_layer(source, several)
            last_use[source] = index
            readers.setdefault(source, set()).add(index)
    for name in outputs:
        last_use[holding_layer(name, several)] = len(steps)

    def value(name: str) -> str:
        """The expression of a value: its variable, or one output of a layer with several."""
        if name in var or holding_layer(name, several) == name:
            return var[name]
        head, key = name.rsplit(".", 1)
        return f"{var[head]}[{python_literal(key)}]" if several[head].keyed else f"{var[head]}[{int(key)}]"

    single_input = len(inputs) == 1 and readers.get(inputs[0], set()) <= {0} and inputs[0] not in outputs
    chain_var = var[inputs[0]] if single_input else names.claim(chain)
    holder = inputs[0] if single_input else None
    breaks = stage_breaks(steps)
    for index, step in enumerate(steps):
        arguments = [value(source) for source in step.inputs]
        # The running variable may hold this value until its last reader if no statement in between
        # would overwrite it (optional submodules write a variable of their own).
        between = steps[index + 1:last_use.get(step.name, index + 1)]
        adjacent_only = all(other.optional or other.flag for other in between) and step.name not in outputs and \
            not step.keys
        is_final = outputs == [step.name] and index == len(steps) - 1
        holder_dead = holder is None or last_use.get(holder, -1) <= index
        # The running variable carries a chain: a layer named in the spec that reads neither the value it
        # holds nor an input of the forward starts a value of its own and keeps its name (FPN's `top_down2`).
        continues = not step.named or (holder in step.inputs if holder is not None else
                                       any(source in inputs for source in step.inputs))
        if step.optional is None and step.flag is None and holder_dead and (adjacent_only or is_final) and \
                (continues or is_final):
            target, holder = chain_var, step.name
        elif (step.optional or step.flag) and step.inputs and step.inputs[0] in inputs:
            target = names.claim("identity")  # falls back to the input, as torchvision's `identity = x`
        else:
            target = names.claim(step.name)
        var[step.name] = target
        if index in breaks:
            writer.line()
        call = step.template.format(*arguments)
        if step.indices:
            var[f"{step.name}#indices"] = names.claim(f"{step.name}_indices")
            target = f"{target}, {var[step.name + '#indices']}"
        if step.optional or step.flag:
            writer.line(f"{target} = {arguments[0]}")
            writer.line(f"if self.{step.flag}:" if step.flag else f"if self.{step.optional} is not None:")
            writer.indent()
            writer.line(f"{target} = {call}")
            writer.outdent()
        elif step.in_place is not None and target == arguments[0]:
            writer.line(step.in_place.format(*arguments))  # `out += identity`: the first input is overwritten
        else:
            writer.line(f"{target} = {call}")
    whole = {holding_layer(name, several) for name in outputs}
    if len(whole) == 1 and (head := whole.pop()) in several and outputs == [
            f"{head}.{key}" for key in several[head].keys or ()] and (output_keys or None) == (
            several[head].keys if several[head].keyed else None):
        writer.line(f"return {var[head]}")  # all the outputs of one layer, as it returned them
    elif output_keys:
        pairs = ", ".join(f"{python_literal(key)}: {value(name)}" for key, name in zip(output_keys, outputs))
        writer.line(f"return {{{pairs}}}")
    elif len(outputs) == 1:
        writer.line(f"return {value(outputs[0])}")
    else:
        writer.line(f"return {', '.join(value(name) for name in outputs)}")


def stage_breaks(steps: list[Step]) -> set[int]:
    """Where a blank line goes: between a run of two or more container calls (ResNet's layer1 to layer4)
    and a run of two or more other statements, as torchvision's forwards separate the stem, the stages
    and the head; a single statement between two runs (a pool) stays with them."""
    runs: list[tuple[int, int]] = []  # (start, length) of runs of steps of one kind
    for index, step in enumerate(steps):
        if runs and steps[runs[-1][0]].stage == step.stage:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return {start for (start, length), (_, before) in zip(runs[1:], runs) if length >= 2 and before >= 2}


def holding_layer(name: str, several: dict[str, "Step"]) -> str:
    """The layer whose variable holds a value: `fpn` for `fpn.0` when fpn has several outputs."""
    head = name.rsplit(".", 1)[0]
    return head if "." in name and head in several else name


def return_type(outputs: list[str], output_keys: list[str] | None) -> str:
    if output_keys:
        return "Dict[str, Tensor]"
    if len(outputs) == 1:
        return "Tensor"
    return f"Tuple[{', '.join('Tensor' for _ in outputs)}]"


def call_template(op: Op, attribute: str, args: CodeArgs) -> str:
    """How forward applies a leaf op: its submodule, its bare parameter, or the op's own functional form."""
    if op.applies is not None:
        return op.applies.replace("{attribute}", attribute_ref(attribute))
    return module_call(attribute, args.values["inputs"]) if op.module else op.emit(args)


def module_call(attribute: str, inputs: int) -> str:
    return f"self.{attribute_ref(attribute)}({', '.join(f'{{{i}}}' for i in range(inputs))})"


def attribute_ref(name: str) -> str:
    """`inner_blocks.3` is element 3 of the nn.ModuleList `inner_blocks`; `heads.cls` a ModuleDict entry."""
    if "." not in name:
        return name
    head, key = name.split(".", 1)
    return f"{head}[{key}]" if key.isdigit() else f"{head}[{python_literal(key)}]"


def method_steps(steps: list[Step], source: str, target: str) -> list[Step]:
    """The statements of forward that lead from `source` (which becomes the method's argument) to `target`."""
    producers = {step.name: step for step in steps}
    needed, stack = set(), [target]
    while stack:
        name = stack.pop()
        if name == source or name in needed or name not in producers:
            continue
        needed.add(name)
        stack.extend(value.split("#")[0] for value in producers[name].inputs)
    renamed = {source: "input"}
    return [replace(step, inputs=[renamed.get(value, value) for value in step.inputs])
            for step in steps if step.name in needed]
