"""Block definitions lowered once, symbolically: what one class written for all instances of a block builds.

Lowering (`lower.py`) expands every block instance with concrete values, which is what analysis needs. A
backend that writes one class per block needs the definition instead: each layer's attributes as
expressions over the block's parameters, `in_channels` and the indices of repeats inside it, and the
channel count after every layer computed from them (through nested blocks, merges, optional layers and
repeats), so that the class is right for every argument and not only for the instances of the spec.

Every expression is checked against every instance: evaluated with that instance's arguments it must give
the attribute the instance was analysed with. A block that cannot be one class (a layer named differently
per instance, a channel count that is no expression of the arguments) is a located error.

    >>> ir = BlockLowering(network).block("bottleneck")
    >>> [layer.name for layer in ir.layers][:3]
    ['conv1', 'bn1', 'relu']
    >>> ex.to_python(ir.layers[0].attrs["out"])
    'planes'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from ..errors import Span, SpecError
from ..ops import AUTO, OPS, Op
from ..spec import expr as ex
from ..spec.model import ITEM_KEYS, BlockDef, Item
from ..spec.values import parse_expression
from .graph import Module, Network, Node, all_known
from .symbolic import CARRY, channel_sum, repeat_input_channels, same


# The Python type an attribute's or a parameter's value is used as, by its kind: how its expression prints.
USED_AS = {"int": "int", "pair": "int", "float": "float"}


def class_error(span: Span, message: str, hint: str | None = None) -> SpecError:
    return SpecError.at(span, f"cannot write the block as one class: {message}", hint)


@dataclass
class Layer:
    """One item of a block definition, for every instance at once."""

    name: str
    kind: str  # "op" | "seq" | "repeat" | "block"
    op: str  # the op or block name; "seq", "repeat"
    span: Span
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, ex.Expr] = field(default_factory=dict)  # an op's attributes; a nested block's arguments
    values: dict[str, Any] = field(default_factory=dict)  # attributes with one value in every instance
    condition: ex.Expr | None = None  # built only where it holds; None: always
    channels: ex.Expr | None = None  # output channels; None where the output has no channel axis
    body: list["Layer"] = field(default_factory=list)  # a seq's layers, or one copy of a repeat's body
    count: ex.Expr | None = None  # of a repeat
    var: str = "i"  # a repeat's index
    named: bool = False  # written with a `name` in the spec (unnamed stateless layers may share a module)
    child: Module | None = None  # a nested block or seq of the first instance: how many outputs it has
    in_channels: list[ex.Expr] | None = None  # what a nested block receives: the channels of each input
    shares: str | None = None  # the earlier layer whose module this one applies again
    choices: dict[str, str] = field(default_factory=dict)  # `$param`: parameter value -> block, as instances use
    inline: bool = False  # an unnamed repeat in a seq: its copies are layers of that seq
    pieces: list[str] = field(default_factory=list)  # the keys of an op's several outputs (a split's)
    in_place: bool = False  # overwrites its first input, in every instance (see Node.in_place)

    def names(self) -> set[str]:
        """The names its expressions read (a repeat's index among them), its body's included."""
        exprs = [*self.attrs.values(), self.condition, self.count, *(self.in_channels or [])]
        found = set().union(*(ex.names_in(e) for e in exprs if e is not None))
        for layer in self.body:
            found |= layer.names()
        return found

    @property
    def op_class(self) -> Op | None:
        return OPS.get(self.op) if self.kind == "op" else None

    @property
    def leaf_op(self) -> Op:
        """The registered op of a layer of kind "op"."""
        assert self.kind == "op", f"'{self.name}' is a {self.kind}, not an op"
        return OPS[self.op]

    @property
    def repeat_count(self) -> ex.Expr:
        """How many copies a repeat builds."""
        assert self.count is not None, f"'{self.name}' is a {self.kind}, not a repeat"
        return self.count


def channel_params(block: BlockDef) -> list[str]:
    """The constructor arguments holding the channels of each input: `in_channels` for `input`, else
    `<input>_channels`, so a block with inputs [input, skip] is `Up(in_channels, skip_channels, out)`."""
    return ["in_channels" if name == "input" else f"{name}_channels" for name in block.inputs]


@dataclass
class BlockIR:
    definition: BlockDef
    channel_params: list[str]
    layers: list[Layer]
    outputs: list[str]
    output_keys: list[str] | None
    out_channels: list[ex.Expr | None]
    instances: list[Module]


class BlockLowering:
    """Lowers the block definitions a network uses, each once, nested blocks before the blocks using them."""

    def __init__(self, network: Network):
        self.network = network
        self.lowered: dict[str, BlockIR] = {}
        self.instances: dict[str, list[Module]] = {}
        # The blocks whose class takes its input channels, as `check_classes` found over the whole network.
        self.takes_channels: set[str] = set()
        for module in network.modules():
            if module.kind == "block" and module.block is not None:  # a block instance names its block
                self.instances.setdefault(module.block, []).append(module)

    def block(self, name: str) -> BlockIR:
        if name not in self.lowered:
            self.lowered[name] = _Definition(self, self.network.blocks[name]).lower()
        return self.lowered[name]


class _Definition:
    def __init__(self, lowering: BlockLowering, block: BlockDef):
        self.lowering = lowering
        self.block = block
        self.instances = lowering.instances.get(block.name, [])
        # Every IR node built from an item of this block (sequences inside included), and its instance.
        self.by_item: dict[int, list[Node]] = {}
        self.instance_of: dict[int, Module] = {}
        for instance in self.instances:
            stack = list(instance.nodes)
            while stack:
                node = stack.pop()
                self.by_item.setdefault(id(node.item), []).append(node)
                self.instance_of[id(node)] = instance
                if node.child is not None and node.child.kind == "sequence":
                    stack.extend(node.child.nodes)
        self.channel_params = channel_params(block)
        self.known = {"in_channels", *self.channel_params, *block.params}  # names expressions read; repeat indices
        self.probing = False  # working out a repeat's channel rule: expressions over CARRY, not checked
        self.by_name: dict[str, Layer] = {}  # the body's layers so far, for `share`

    def lower(self) -> BlockIR:
        block = self.block
        channels: dict[str, ex.Expr | None] = {}
        for name, param in zip(block.inputs, self.channel_params):
            channels[name] = ex.Name(0, param)
        layers = [self.layer(item, channels) for item in block.body]
        instance = self.instances[0] if self.instances else None
        if instance is not None:
            outputs = [instance.value(o) if instance.value(o) in block.inputs else o for o in instance.outputs]
        else:
            outputs = [layers[-1].name] if layers else list(block.inputs)
        return BlockIR(block, self.channel_params, layers, outputs, instance.output_keys if instance else None,
                       [channels.get(name) for name in outputs], self.instances)

    # ------------------------------------------------------------ one item of the body

    def layer(self, item: Item, channels: dict[str, ex.Expr | None]) -> Layer:
        if item.kind == "group":
            raise class_error(item.span, "a 'group' inside a block definition is not supported",
                              hint="use a nested block there: it is a sub-network with parameters")
        nodes = self.nodes_for(item)
        name = nodes[0].name if nodes else item.name
        if name is None:
            raise class_error(item.span, "this layer is never built; give it a name")
        inputs = self.input_names(item, nodes)
        if item.share is not None:
            layer = self.shared(item, nodes, [channels.get(source) for source in inputs], str(name))
        else:
            layer = self.build(item, nodes, [channels.get(source) for source in inputs], str(name))
        layer.inputs = inputs
        layer.condition = self.condition(item)
        channels[layer.name] = self.optional_channels(layer, channels.get(inputs[0]) if inputs else None)
        if layer.kind == "op" and item.share is None:
            known = nodes[0].attrs if nodes else layer.values  # how many pieces: the same in every instance
            layer.pieces = layer.leaf_op.output_names(known) or []
            channels.update(self.piece_channels(layer, known, channels.get(inputs[0]) if inputs else None))
        self.by_name[layer.name] = layer
        return layer

    def shared(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str) -> Layer:
        """A layer applying an earlier layer's module again: no module of its own, the owner's channels."""
        owner = self.by_name.get(str(item.share))
        if owner is None or owner.shares is not None:
            raise class_error(item.attrs.value_span("share"), f"'{item.share}' is not an earlier layer of the block")
        if owner.condition is not None:
            raise class_error(item.attrs.value_span("share"), f"'{owner.name}' is optional, so there may be no "
                              "module to share", hint="share a layer that every instance has")
        op = owner.op_class
        channels = in_channels[0] if op is not None and op.channels == "same" else owner.channels
        return Layer(name, owner.kind, owner.op, item.span, values=owner.values, channels=channels, named=True,
                     child=owner.child, shares=owner.name)

    def nodes_for(self, item: Item) -> list[Node]:
        found = self.by_item.get(id(item), [])
        if len({node.name for node in found}) > 1:
            raise class_error(item.span, "this layer gets different names in different instances; name it")
        return found

    def input_names(self, item: Item, nodes: list[Node]) -> list[str]:
        if nodes:
            return list(nodes[0].inputs)
        if item.inputs is None:
            raise class_error(item.span, "cannot tell this layer's input; add 'from'")
        return [item.inputs] if isinstance(item.inputs, str) else list(item.inputs)

    def condition(self, item: Item) -> ex.Expr | None:
        if item.condition is None:
            return None
        expr = self.expression(item.condition, item.attrs.value_span("if"))
        return None if isinstance(expr, ex.Const) and expr.value is True else expr

    @staticmethod
    def piece_channels(layer: Layer, known: dict[str, Any], in_channels: ex.Expr | None) -> dict[str, ex.Expr]:
        """`split.0`, `split.1` …: the channels of each output of an op with several."""
        rules = layer.leaf_op.piece_channels(known)
        if not rules or in_channels is None:
            return {}
        names = {"in_channels": in_channels, **layer.attrs}
        return {f"{layer.name}.{index}": ex.fold(substitute(ex.parse(rule), names), {})
                for index, rule in enumerate(rules)}

    @staticmethod
    def optional_channels(layer: Layer, passed_on: ex.Expr | None) -> ex.Expr | None:
        """A layer left out passes its (first) input on: its channels are the input's where it is off."""
        if layer.condition is None or same(layer.channels, passed_on):
            return layer.channels
        if layer.channels is None or passed_on is None:
            return None
        return ex.fold(ex.IfElse(0, layer.condition, layer.channels, passed_on), {})

    def expression(self, raw: Any, span: Span) -> ex.Expr:
        if isinstance(raw, str):
            expr = parse_expression(raw, span)
        elif isinstance(raw, list):
            expr = ex.ListExpr(0, tuple(parse_expression(v, span) if isinstance(v, str) else ex.Const(0, v)
                                        for v in raw))
        else:
            return ex.Const(0, raw)
        unknown = ex.names_in(expr) - self.known
        if unknown:
            raise SpecError.at(span, f"unknown name '{sorted(unknown)[0]}' in block '{self.block.name}'")
        if len(self.channel_params) > 1:  # the spec's `in_channels[1]` is the argument `skip_channels`
            names = ex.ListExpr(0, tuple(ex.Name(0, param) for param in self.channel_params))
            return substitute(expr, {"in_channels": names})
        return ex.fold(expr, {})

    def build(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str) -> Layer:
        if item.kind == "seq":
            return self.sequence(item, nodes, in_channels[0], name)
        if item.kind == "repeat":
            return self.repeat(item, nodes, in_channels[0], name)
        if item.kind == "block":
            return self.nested_block(item, nodes, in_channels, name)
        return self.op_layer(item, nodes, in_channels, name)

    # ------------------------------------------------------------ containers

    def sequence(self, item: Item, nodes: list[Node], in_channels: ex.Expr | None, name: str) -> Layer:
        """A seq: its layers in order, each reading the one before; an optional one passes its input on."""
        body, current = [], in_channels
        for position, child in enumerate(item.body):
            layer = self.member(child, current, str(position))
            current = self.optional_channels(layer, current)
            body.append(layer)
        return Layer(name, "seq", "seq", item.span, body=body, channels=current, named=item.name is not None,
                     child=nodes[0].child if nodes else None)

    def member(self, item: Item, in_channels: ex.Expr | None, position: str) -> Layer:
        """A layer of a seq or a repeat's body: it reads the previous one and is named by its position."""
        if item.kind == "group" or item.share is not None:
            return self.layer(item, {})  # refused there, with the reason
        nodes = self.by_item.get(id(item), [])
        name = str(item.name) if item.name is not None else position
        if item.kind == "repeat" and item.name is None:  # its copies go into the enclosing sequence
            layer = self.repeat(item, nodes, in_channels, name, inline=True)
        else:
            layer = self.build(item, nodes, [in_channels], name)
        layer.condition = self.condition(item)
        return layer

    def repeat(self, item: Item, nodes: list[Node], in_channels: ex.Expr | None, name: str,
               inline: bool = False) -> Layer:
        """A named repeat: `count` copies of its body in one nn.Sequential, the index an expression name; an
        unnamed one in a seq (`inline`): the copies in that seq. The input channels of copy `i` come from the
        body's own rule (see `repeat_input_channels`)."""
        if item.name is None and not inline:
            raise class_error(item.span, "a 'repeat' inside a block needs a 'name'",
                              hint="its copies then form one nn.Sequential of that name")
        for child in item.body:
            if child.name is not None:
                raise class_error(child.attrs.key_span("name"), "the layers of a repeat inside a block are "
                                  "numbered by position; remove 'name'")
        count = self.expression(item.count, item.attrs.value_span("count"))
        self.known.add(item.var)
        try:
            self.probing = True
            try:
                _, probe = self.copy(item, ex.Name(0, CARRY))
            finally:
                self.probing = False
            if probe is None or in_channels is None:
                first = None
            else:
                first = repeat_input_channels(probe, in_channels, item.var)
                if first is None:
                    raise class_error(item.span, "the channels of each copy of this repeat are no expression of "
                                      "the block's arguments", hint="a copy's output channels must be a fixed "
                                      "count, or its input channels plus a fixed count (a dense block)")
            body, out = self.copy(item, first)
        finally:
            self.known.discard(item.var)
        self.check_count(item, count, nodes)
        channels = None if out is None else substitute(out, {item.var: ex.Binary(0, "-", count, ex.Const(0, 1))})
        if inline:  # no copies, no layers: the channels pass through
            channels = ex.fold(ex.IfElse(0, ex.Compare(0, (">",), (count, ex.Const(0, 0))), channels, in_channels),
                               {}) if channels is not None and in_channels is not None else channels
        return Layer(name, "repeat", "repeat", item.span, body=body, count=count, var=item.var, channels=channels,
                     named=not inline, child=nodes[0].child if nodes else None, inline=inline)

    def copy(self, item: Item, in_channels: ex.Expr | None) -> tuple[list[Layer], ex.Expr | None]:
        body, current = [], in_channels
        for position, child in enumerate(item.body):
            layer = self.member(child, current, str(position))
            current = self.optional_channels(layer, current)
            body.append(layer)
        return body, current

    def check_count(self, item: Item, count: ex.Expr, nodes: list[Node]) -> None:
        """Every instance has as many copies as the class would build (an unnamed repeat has no node of its
        own: each copy's layers are numbered below the count)."""
        for child in item.body:
            for node in self.by_item.get(id(child), []):
                if item.var in node.indices and node.indices[item.var] >= ex.evaluate(count, self.env(node)):
                    raise AssertionError(f"block {self.block.name}: '{node.name}' is copy {node.indices[item.var]} "
                                         "of a repeat the class would build fewer times")
        for node in nodes:
            env = self.env(node)
            built = len(node.child.nodes) if node.child is not None else 0
            unconditional = all(child.condition is None for child in item.body)
            if unconditional and built != ex.evaluate(count, env) * len(item.body):
                raise AssertionError(f"block {self.block.name}: repeat '{node.name}' has {built} layers, the "
                                     f"class would build {ex.evaluate(count, env) * len(item.body)}")

    # ------------------------------------------------------------ nested blocks

    def nested_block(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str) -> Layer:
        if item.op.startswith("$"):
            return self.chosen_block(item, nodes, in_channels, name)
        inner = self.lowering.block(item.op)
        arguments: dict[str, ex.Expr] = {}
        for param in inner.definition.params:
            if param in item.attrs:
                arguments[param] = self.expression(item.attrs[param], item.attrs.value_span(param))
        received = all_known(in_channels)
        layer = Layer(name, "block", item.op, item.span, attrs=arguments, in_channels=received,
                      named=item.name is not None, child=nodes[0].child if nodes else None)
        layer.channels = self.nested_out_channels(inner, layer, nodes)
        return layer

    def chosen_block(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str) -> Layer:
        """`$param`: the block a parameter names. The class can build the blocks its instances choose, each
        lowered on its own; its channels are each choice's, under the parameter's value."""
        param = item.op[1:]
        if param not in self.block.params or self.block.params[param].type != "str":
            raise class_error(item.span, f"'{item.op}' must name a 'str' parameter of the block")
        choices: dict[str, str] = {}
        for node in nodes:
            choices[self.instance_of[id(node)].args[param]] = _block_of(node)
        if not choices:
            raise class_error(item.span, "no instance builds this layer, so there is no block to choose")
        layers = {value: self.nested_block(_as_block(item, block), nodes_of(nodes, block), in_channels, name)
                  for value, block in choices.items()}
        layer = next(iter(layers.values()))
        layer.op, layer.choices = item.op, choices
        channels = None
        for value, option in reversed(list(layers.items())):
            if option.channels is None:
                channels = None
                break
            test = ex.Compare(0, ("==",), (ex.Name(0, param), ex.Const(0, value)))
            channels = option.channels if channels is None else ex.IfElse(0, test, option.channels, channels)
        layer.channels = channels
        return layer

    def nested_out_channels(self, inner: BlockIR, layer: Layer, nodes: list[Node]) -> ex.Expr | None:
        """The nested block's output channels: its own expression with this block's arguments put in, so the
        layers after it are right for every argument; else a count every instance agrees on."""
        values: dict[str, ex.Expr] = {p: ex.Const(0, d.default) for p, d in inner.definition.params.items()}
        values.update(layer.attrs)
        if layer.in_channels is not None:
            values.update(zip(inner.channel_params, layer.in_channels))
        expr = inner.out_channels[0] if inner.out_channels else None
        if expr is not None and not ex.names_in(expr) - values.keys():
            return substitute(expr, values)
        agreed = {n.shape[0] if n.shape else None for n in nodes}
        if len(agreed) == 1 and None not in agreed:
            return ex.Const(0, agreed.pop())
        return None

    # ------------------------------------------------------------ ops

    def op_layer(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str) -> Layer:
        op = OPS[item.op]
        exprs, unverified = self.op_attrs(item, op, nodes, in_channels)
        self.verify(op, exprs, unverified, nodes)
        values = {attr: normalise(op.attrs[attr].kind, expr.value)
                  for attr, expr in exprs.items() if isinstance(expr, ex.Const)}
        for extra in ("rank", "indices"):
            agreed = {freeze(node.attrs.get(extra)) for node in nodes} - {None}
            if len(agreed) == 1:
                values[extra] = agreed.pop()
        return Layer(name, "op", op.name, item.span, attrs=exprs, values=values, named=item.name is not None,
                     channels=self.output_channels(op, exprs, in_channels),
                     in_place=bool(nodes) and all(node.in_place for node in nodes))

    def op_attrs(self, item: Item, op: Op, nodes: list[Node], in_channels: list[ex.Expr | None]
                 ) -> tuple[dict[str, ex.Expr], set[str]]:
        exprs: dict[str, ex.Expr] = {}
        unverified: set[str] = set()  # compiler choices that differ between instances
        defaults = self.block.defaults.get(op.name, {})
        for attr_name, attr in op.attrs.items():
            if attr_name in item.attrs and attr_name not in ITEM_KEYS:
                raw, span = item.attrs[attr_name], item.attrs.value_span(attr_name)
            elif attr_name in defaults:
                raw, span = defaults[attr_name].value, defaults[attr_name].span
            elif attr.inferred:
                exprs[attr_name] = self.inferred(item, attr_name, nodes, in_channels if attr.channels else [])
                continue
            else:
                # Left to the compiler (an in-place activation): what it chose for every instance, or the
                # op's safe default where instances differ (nothing to verify then: it is not in the spec).
                agreed = {freeze(node.attrs.get(attr_name)) for node in nodes}
                if len(agreed) > 1:
                    unverified.add(attr_name)
                raw, span = (agreed.pop() if len(agreed) == 1 else attr.default), item.span
            if raw is AUTO:  # follows the other attributes: `resolve_auto` below fills it in
                exprs[attr_name] = AUTO
                continue
            literal = attr.kind in ("str", "choice")  # names, not expressions
            exprs[attr_name] = ex.Const(0, raw) if literal else self.expression(raw, span)
        # A pool's stride left at its default is its kernel's expression (`kernel: k` gives `stride: k`).
        resolved = op.resolve_auto(exprs)
        return {name: value if isinstance(value, ex.Expr) else ex.Const(0, value)
                for name, value in resolved.items()}, unverified

    def inferred(self, item: Item, attr_name: str, nodes: list[Node], in_channels: list[ex.Expr | None]) -> ex.Expr:
        """A channel count tracked through the block, or a value every instance agrees on."""
        if in_channels and in_channels[0] is not None:
            return in_channels[0]
        agreed = {node.attrs.get(attr_name) for node in nodes}
        if len(agreed) == 1 and None not in agreed:
            return ex.Const(0, agreed.pop())
        if any(len(self.instance_of[id(node)].value_shape(node.inputs[0]) or ()) == 1 for node in nodes):
            raise class_error(item.span, f"'{attr_name}' depends on the input size (it reads a flattened map) "
                              "and differs between the instances of this block",
                              hint=f"give '{attr_name}' explicitly, or pool to a fixed size before flattening")
        raise class_error(item.span, f"the channels of the input of '{item.op}' are no expression of the "
                          "block's arguments, and they differ between its instances",
                          hint=f"give '{attr_name}' explicitly")

    @staticmethod
    def output_channels(op: Op, exprs: dict[str, ex.Expr], in_channels: list[ex.Expr | None]) -> ex.Expr | None:
        if op.channels == "out":
            return exprs["out"]
        if op.channels == "sum":
            known = all_known(in_channels)
            return None if known is None else channel_sum(known)
        if op.channels in ("none", "pieces"):
            return None
        if op.channels != "same":  # a rule over the input's channels and the op's attributes (pixel_shuffle)
            if not in_channels or in_channels[0] is None:
                return None
            return ex.fold(substitute(ex.parse(op.channels), {"in_channels": in_channels[0], **exprs}), {})
        return in_channels[0] if in_channels else None

    def verify(self, op: Op, exprs: dict[str, ex.Expr], unverified: set[str], nodes: list[Node]) -> None:
        """Every instance must get from the class exactly the attributes it was analysed with."""
        if self.probing:
            return
        for node in nodes:
            env = self.env(node)
            for attr_name, expr in exprs.items():
                if attr_name not in node.attrs or attr_name in unverified:
                    continue
                value = normalise(op.attrs[attr_name].kind, ex.evaluate(expr, env))
                if value != node.attrs[attr_name]:
                    raise AssertionError(f"the class of block {self.block.name} would build "
                                         f"{node.name}.{attr_name}={value!r}, analysed {node.attrs[attr_name]!r}")

    def env(self, node: Node) -> dict[str, Any]:
        """The names an expression of this node sees in its instance: arguments and repeat indices."""
        instance = self.instance_of[id(node)]
        channels = instance.args["in_channels"]
        channels = channels if isinstance(channels, list) else [channels]
        return {**instance.args, **dict(zip(self.channel_params, channels)), **node.indices}


def _as_block(item: Item, block: str) -> Item:
    """The item of a `$param` layer as if it named one of its choices."""
    return replace(item, op=block)


def _block_of(node: Node) -> str:
    """The block a call node of a block instance applies."""
    block = node.called_module().block
    if block is None:
        raise ValueError(f"'{node.name}' applies a {node.called_module().kind}, not a block")
    return block


def nodes_of(nodes: list[Node], block: str) -> list[Node]:
    return [node for node in nodes if node.child is not None and node.child.block == block]


def freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def substitute(expr: ex.Expr, values: dict[str, ex.Expr]) -> ex.Expr:
    """`expr` with each name in `values` replaced by its expression: an op's channel rule, made symbolic."""
    if isinstance(expr, ex.Name):
        return values.get(expr.name, expr)
    if isinstance(expr, ex.Binary):
        return ex.Binary(expr.offset, expr.op, substitute(expr.left, values), substitute(expr.right, values))
    if isinstance(expr, ex.Index):
        target, index = substitute(expr.target, values), substitute(expr.index, values)
        if isinstance(target, ex.ListExpr) and isinstance(index, ex.Const) and isinstance(index.value, int):
            return target.items[index.value]  # `sizes[1]` of `[hidden, hidden]`: hidden
        return ex.Index(expr.offset, target, index)
    return expr


def normalise(kind: str, value: Any) -> Any:
    if kind == "pair" and isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if kind in ("pair", "shape") and isinstance(value, list):
        return tuple(value)
    if kind == "float" and isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return float(value)
    return value
