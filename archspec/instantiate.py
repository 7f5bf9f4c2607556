"""Running the emitted file, for `Net.module()`: the one place archspec executes Python.

The compiler never evaluates a spec (tests/test_security.py checks every other module for eval,
exec and dynamic imports). What runs here is the file `build` would write — generated from the IR,
with every name and string from the spec checked or escaped — executed at the user's request, as
importing the written file would. Its source is registered with `linecache`, so `inspect` (and
therefore torch.jit.script) can read it.
"""

from __future__ import annotations

import linecache
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def instantiate(factory: str, source: str) -> torch.nn.Module:
    """Execute `source` as a module of its own and call its factory function."""
    module_name = f"archspec_emitted_{factory}_{abs(hash(source)):x}"
    filename = f"<archspec:{module_name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    sys.modules[module_name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return getattr(module, factory)()
