"""Neural networks on chainrule: modules with parameters found automatically, layers, losses, initialisers.

>>> import chainrule as cr
>>> from chainrule import nn
>>> cr.manual_seed(0)  # doctest: +ELLIPSIS
Generator(PCG64) at ...
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> [name for name, _ in model.named_parameters()]
['0.weight', '0.bias', '2.weight', '2.bias']
>>> loss = nn.functional.cross_entropy(model(cr.ones((2, 4))), [0, 2])
>>> loss.backward()
>>> model[0].weight.grad.shape
(8, 4)
"""

from . import functional, init
from .init import manual_seed
from .modules import (
    GELU,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    Linear,
    MaxPool2d,
    Module,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)

__all__ = [
    "BCEWithLogitsLoss",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
    "init",
    "manual_seed",
]
