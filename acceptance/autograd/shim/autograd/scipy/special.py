"""autograd.scipy.special.logsumexp as chainrule's."""

import chainrule as _cr


def logsumexp(a, axis=None, keepdims=False):
    return _cr.logsumexp(a, axis=axis, keepdims=keepdims)
