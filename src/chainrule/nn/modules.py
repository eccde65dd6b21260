"""Modules: layers that own parameters, as in PyTorch.

A module's parameters are found by looking at its attributes: a leaf tensor that requires grad is a parameter,
a module is a submodule, and lists, tuples and dicts are searched for both (``layers.0.weight``). Nothing needs
registering.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import engine
from ..engine.tracing import _local as _jit
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init


class _ParameterType(type):
    def __instancecheck__(cls, value: Any) -> bool:
        return _is_parameter(value)


class Parameter(metaclass=_ParameterType):
    """A module's trainable tensor: ``Parameter(data)`` is a leaf Tensor (a copy of ``data``) that requires grad
    and stays a parameter when frozen with ``requires_grad_(False)``; ``isinstance(t, Parameter)`` tells."""

    def __new__(cls, data: Any, dtype: Any = None, requires_grad: bool = True) -> Tensor:  # type: ignore[misc]
        from ..creation import tensor

        t = tensor(data, dtype=dtype)
        t._parameter = True
        return t.requires_grad_(requires_grad)


def _is_parameter(value: Any) -> bool:
    return type(value) is Tensor and value.is_leaf and (value._parameter or value.requires_grad)


class Module:
    """Base class of layers and models: subclass it, set parameters and submodules as attributes in
    ``__init__``, and write ``forward``; call the module to run it."""

    training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- what the module holds ---------------------------------------------------------------------------------
    def _children(self) -> Iterator[tuple[str, Any]]:
        """(name, value) for every parameter or module reachable through attributes, lists, tuples and dicts."""
        stack: list[tuple[str, Any]] = list(reversed(list(vars(self).items())))
        while stack:
            name, value = stack.pop()
            if _is_parameter(value) or isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                stack.extend(reversed([(f"{name}.{i}", v) for i, v in enumerate(value)]))
            elif isinstance(value, dict):
                stack.extend(reversed([(f"{name}.{k}", v) for k, v in value.items()]))

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module once, with its dotted name ("" for this one); a module met again is not entered twice."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, v) for n, v in module._children() if isinstance(v, Module)]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted name, each once (a shared parameter under its first name)."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in module._children():
                if _is_parameter(value) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

    def parameters(self) -> Iterator[Tensor]:
        return (p for _, p in self.named_parameters())

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- saving and loading --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """{dotted name: parameter values}, detached tensors sharing the parameters' memory (as in PyTorch)."""
        return {name: p.detach() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy values into the parameters (in place, so optimizers keep working). With ``strict`` every key must
        match; a shape mismatch is always an error. Returns (missing keys, unexpected keys)."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems = []
        for name, p in own.items():
            if name in state:
                shape = np.shape(state[name].data if type(state[name]) is Tensor else state[name])
                if shape != p.shape:
                    problems.append(f"{name}: the model has shape {p.shape}, the state has {shape}")
        if strict and (missing or unexpected):
            problems.insert(0, f"missing keys {missing}, unexpected keys {unexpected}")
        if problems:
            advice = " (or pass strict=False to skip absent keys)" if strict and (missing or unexpected) else ""
            raise ShapeError(
                f"load_state_dict into {type(self).__name__}: "
                + "; ".join(problems)
                + f". Load a state saved from the same architecture{advice}."
            )
        with engine.no_grad():
            for name, p in own.items():
                if name in state:
                    value = state[name]
                    p.data[...] = value.data if type(value) is Tensor else np.asarray(value)
                    engine.mark_changed(p)
        return missing, unexpected

    def __repr__(self) -> str:
        children = [(n, v) for n, v in self._children() if isinstance(v, Module)]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [f"  ({n}): " + repr(v).replace("\n", "\n  ") for n, v in children]
        return head + "\n" + "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""


class Linear(Module):
    """y = x @ weight.T + bias, with weight (out_features, in_features) initialised as in PyTorch
    (Kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)), and the same range for the bias)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float64, generator=None):
        self.in_features, self.out_features = in_features, out_features
        # shaped (out, in) as in PyTorch, stored column-major: x @ weight.T then reads a row-major (in, out) matrix
        self.weight = Parameter(np.zeros((in_features, out_features)).T, dtype=dtype)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), nonlinearity="leaky_relu", generator=generator)
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(in_features) if in_features else 0.0
            self.bias = init.uniform_(Parameter(np.zeros(out_features), dtype=dtype), -bound, bound, generator)

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied one after the other."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int | slice) -> Any:
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def _children(self) -> Iterator[tuple[str, Any]]:  # named 0, 1, ... as in PyTorch
        return ((str(i), layer) for i, layer in enumerate(self.layers))


class ReLU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class Tanh(Module):
    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Flatten(Module):
    """(N, ...) -> (N, everything else)."""

    def forward(self, x: Any) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Dropout(Module):
    """Zeroes elements with probability p while training (scaling the rest by 1/(1-p)); identity in eval()."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None, seed: int | None = None):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator if generator is not None or seed is None else np.random.default_rng(seed)

    def forward(self, x: Any) -> Tensor:
        if _jit.trace is not None:  # (baked into a traced call: a replay checks they have not changed)
            _jit.trace.guard_attribute(self, "training"), _jit.trace.guard_attribute(self, "p")
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype: Any = np.float64) -> None:  # fmt: skip
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape), dtype=dtype) if elementwise_affine else None

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim`` (initialised N(0, 1)), indexed by integers."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = np.float64, generator=None) -> None:
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        weight = Parameter(np.zeros((num_embeddings, embedding_dim)), dtype=dtype)
        self.weight = init.normal_(weight, generator=generator)

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in PyTorch) over (N, C, H, W) inputs, initialised as PyTorch does."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], stride=1, padding=0,
                 bias: bool = True, dtype: Any = np.float64, generator=None) -> None:  # fmt: skip
        kh, kw = F._pair(kernel_size, "kernel_size")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.weight = Parameter(np.zeros((out_channels, in_channels, kh, kw)), dtype=dtype)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), nonlinearity="leaky_relu", generator=generator)
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(in_channels * kh * kw)
            self.bias = init.uniform_(Parameter(np.zeros(out_channels), dtype=dtype), -bound, bound, generator)

    def forward(self, x: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class MaxPool2d(Module):
    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None) -> None:
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride if self.stride is not None else self.kernel_size}"


class MSELoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, logits: Any, labels: Any) -> Tensor:
        return F.cross_entropy(logits, labels, self.reduction)


class BCEWithLogitsLoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets, self.reduction)
