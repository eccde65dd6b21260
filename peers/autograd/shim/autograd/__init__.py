"""A renaming layer: autograd's public names, answered by chainrule.

Nothing here differentiates anything: every name is chainrule's own function under autograd's name (with
autograd's keyword spelling, ``argnum``, turned into chainrule's, ``argnums``). A name autograd has and chainrule
lacks is not imitated: asking for it raises AttributeError naming it.
"""

import chainrule as _cr

from ._missing import missing as _missing


def grad(fun, argnum=0):
    return _cr.grad(fun, argnums=argnum)


def value_and_grad(fun, argnum=0):
    return _cr.value_and_grad(fun, argnums=argnum)


def jacobian(fun, argnum=0):
    return _cr.jacobian(fun, argnums=argnum)


def hessian(fun, argnum=0):
    return _cr.hessian(fun, argnums=argnum)


__getattr__ = _missing(__name__)
