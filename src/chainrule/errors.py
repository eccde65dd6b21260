"""Errors chainrule raises for user mistakes: each names the operation, the shapes involved and a fix."""

import numpy as np


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError):
    """Operands whose shapes do not fit the operation."""


class GradientError(ChainruleError, RuntimeError):
    """A backward pass that cannot give a correct gradient (freed graph, non-scalar output, ...)."""


class InplaceError(GradientError):
    """A value needed by a recorded operation was changed in place."""


class DtypeError(ChainruleError, TypeError):
    """A dtype that cannot take part in differentiation (integer or bool tensors that require grad)."""


class AnomalyError(ChainruleError, FloatingPointError):
    """Inside ``detect_anomaly()``: a value or gradient became NaN or infinite."""


class LinAlgError(ChainruleError, np.linalg.LinAlgError):
    """A matrix the operation cannot take: singular, not positive definite, or an algorithm that did not converge
    (also caught as NumPy's ``np.linalg.LinAlgError``)."""
