"""One module per distribution, as in autograd, each answering with chainrule.scipy.stats's object of that name.

Samplers (``rvs``) draw numbers and have no derivative: where chainrule's object has none, SciPy's own answers,
as it does in autograd."""

import scipy.stats

import chainrule.scipy.stats as _stats

from ..._missing import MissingInChainrule


def forward(module_name):
    distribution = module_name.rsplit(".", 1)[-1]

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        ours = getattr(_stats, distribution, None)
        if ours is not None and hasattr(ours, name):
            return getattr(ours, name)
        if name == "rvs":
            return getattr(scipy.stats, distribution).rvs
        raise MissingInChainrule(f"{module_name}.{name}: chainrule has no counterpart (not mapped by the shim)")

    return __getattr__
