"""``cr.jit``: trace a function once per signature, then replay its array operations as straight-line code.

``trace`` runs the call on tracers and records every array operation (forward, backward, in-place updates,
random draws); ``program`` is what it records; ``optimise`` folds constants, merges repeats, drops unused work
and plans buffers; ``generate`` writes the program as Python over NumPy; ``function`` keeps one program per
signature and decides when a function must run eagerly.
"""

from .function import JittedFunction, JitWarning, jit
from .trace import current as tracing_now

__all__ = ["JitWarning", "JittedFunction", "jit", "tracing_now"]
