"""autograd.scipy.integrate.odeint: SciPy's signature (the extra arguments as one tuple ``args``) turned into
chainrule's (the extra arguments spread after ``t``)."""

import chainrule.scipy.integrate as _integrate

from .._missing import missing


def odeint(func, y0, t, args=(), **kwargs):
    return _integrate.odeint(func, y0, t, *args, **kwargs)


__getattr__ = missing(__name__, lambda: _integrate)
