"""Rules for names that reach generated Python code."""

from __future__ import annotations

import builtins
import keyword

# Attributes and methods of torch.nn.Module: a submodule with one of these names would shadow them.
NN_MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
modules mtia named_buffers named_children named_modules named_parameters parameters register_backward_hook
register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
""".split())

# Names the generated file itself defines or imports.
GENERATED_NAMES = frozenset({"torch", "nn", "Tensor", "Dict", "List", "Optional", "Tuple", "OrderedDict",
                             "annotations", "self"})


def is_python_name(name: str) -> bool:
    return isinstance(name, str) and name.isidentifier() and name.isascii() and not keyword.iskeyword(name)


def is_sequence_key(name: str) -> bool:
    """A key of an nn.Sequential built from an OrderedDict, never an attribute: letters, digits, `_` and `-`
    (torchvision's RegNet names its blocks `block1-0`)."""
    return bool(name) and name.isascii() and name[0] != "_" and all(c.isalnum() or c in "_-" for c in name)


def attribute_problem(name: str) -> str | None:
    """Why `name` cannot be a submodule attribute, or None if it can."""
    if not is_python_name(name):
        if keyword.iskeyword(name):
            return f"'{name}' is a Python keyword"
        return f"'{name}' is not a valid Python identifier"
    if name in NN_MODULE_ATTRIBUTES:
        return f"'{name}' would shadow the nn.Module attribute of that name"
    if name.startswith("_"):
        # nn.Module keeps its own state under such names (_modules, _parameters, _buffers, hooks …).
        return f"'{name}' starts with an underscore, which nn.Module reserves for its own attributes"
    return None


def module_name_problem(name: str) -> str | None:
    """Why a valid identifier cannot name a class or function of the generated file, or None if it can."""
    if name in GENERATED_NAMES:
        return f"'{name}' would shadow a name the generated file imports"
    if hasattr(builtins, name):
        return f"'{name}' would shadow the Python builtin of that name"
    return None


def is_reserved_variable(name: str) -> bool:
    """Names a local variable in generated code must not take."""
    return name in GENERATED_NAMES or hasattr(builtins, name) or keyword.iskeyword(name)
