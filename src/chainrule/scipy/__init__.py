"""``chainrule.scipy``: SciPy's functions on tensors, differentiable (the scipy extra: pip install "chainrule[scipy]").

Mirrors SciPy's modules: ``special``, ``stats``, ``signal``, ``linalg`` and ``integrate.odeint`` so far.
"""

from __future__ import annotations

try:
    import scipy  # noqa: F401
except ImportError as error:  # the whole module needs it: say which extra brings it
    raise ImportError("chainrule.scipy needs SciPy, an optional dependency: pip install 'chainrule[scipy]'") from error

from . import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
