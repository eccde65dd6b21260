"""Initialisers (Kaiming/He and Xavier/Glorot, uniform and normal) and the random generator they draw from.

Every function takes an optional NumPy ``generator``; without one they draw from chainrule's default
generator, which ``manual_seed(seed)`` resets, so a seeded script builds the same model every time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import engine
from ..tensor import Tensor

_default = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator (used by initialisers and dropout when none is given); returns it."""
    _default[0] = np.random.default_rng(seed)
    return _default[0]


def default_generator() -> np.random.Generator:
    return _default[0]


class replaying_draws:
    """``with replaying_draws(saved):`` the default generator draws again what it drew after ``saved =
    saved_draws()``, and afterwards goes on as if the block had not run (what checkpoint's recomputation needs:
    dropout masks equal to the forward pass's)."""

    def __init__(self, saved: dict) -> None:
        self.saved = saved

    def __enter__(self) -> None:
        self.previous = _default[0]
        replay = np.random.Generator(type(self.previous.bit_generator)())
        replay.bit_generator.state = self.saved
        _default[0] = replay

    def __exit__(self, *exc: object) -> None:
        _default[0] = self.previous


def saved_draws() -> dict:
    """The default generator's state, for ``replaying_draws``."""
    return _default[0].bit_generator.state


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (out, in) for a linear layer, (out, in, *kernel) for a convolution."""
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight of at least 2 dimensions, got shape {shape}")
    field = math.prod(shape[2:])
    return shape[1] * field, shape[0] * field


def calculate_gain(nonlinearity: str = "relu", param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity`` (as PyTorch's calculate_gain)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    with engine.no_grad():
        t.data[...] = values.astype(t.dtype)
        engine.mark_changed(t)
    return t


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else _default[0]


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    return _fill(t, _rng(generator).uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    return _fill(t, _rng(generator).normal(mean, std, t.shape))


def zeros_(t: Tensor) -> Tensor:
    return _fill(t, np.zeros(t.shape))


def kaiming_uniform_(t: Tensor, a: float = 0.0, nonlinearity: str = "relu", mode: str = "fan_in", generator=None):
    """He initialisation: U(-b, b) with b = gain * sqrt(3 / fan)."""
    fan = fans(t.shape)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, nonlinearity: str = "relu", mode: str = "fan_in", generator=None):
    """He initialisation: N(0, std²) with std = gain / sqrt(fan)."""
    fan = fans(t.shape)[0 if mode == "fan_in" else 1]
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot initialisation: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(t.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot initialisation: N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(t.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)
