"""autograd.scipy: the one SciPy function autograd's NumPy examples call, logsumexp (issue 15 brings cr.scipy)."""

from . import special  # noqa: F401
