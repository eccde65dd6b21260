"""autograd.extend (primitive, defvjp, defjvp, vspace, ...): chainrule's counterpart is ``chainrule.custom_vjp``
(one forward function returning residuals, one backward rule for all arguments), a different shape of interface
that a renaming cannot bridge; every name here is reported as missing."""

from ._missing import missing

__getattr__ = missing(__name__)
