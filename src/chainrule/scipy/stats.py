"""``cr.scipy.stats``: SciPy's distributions on tensors, differentiable in the data and in every continuous
parameter, to second order.

``norm``, ``t``, ``gamma``, ``beta``, ``chi2``: pdf logpdf cdf logcdf sf logsf entropy, with ``loc`` and
``scale``; ``poisson``: pmf logpmf cdf logcdf sf logsf entropy (differentiable in the rate; k counts);
``multivariate_normal``: pdf logpdf entropy; ``dirichlet``: pdf logpdf entropy. Densities are closed forms; the
distribution functions are SciPy's incomplete gamma and beta functions, whose derivatives in the shape
parameters are computed by ``ops/incomplete.py``. Outside a distribution's support the density is 0 (log density
-inf) and the distribution function 0 or 1, as in SciPy, with derivative 0. On the support's boundary (x = 0 for
gamma, 0 and 1 for beta) values are SciPy's and derivatives are the one-sided limits of the formula, which may be
infinite (d/dx log gamma.pdf(0, a) is +inf for a > 1, -1 for a = 1, -inf for a < 1).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import functions as F
from ..ops import special as _ops
from ..tensor import Tensor
from .special import _tensor, betainc, digamma, gammainc, gammaincc, gammaln, xlog1py, xlogy

LOG_2PI = math.log(2 * math.pi)


def _standard(x: Any, loc: Any, scale: Any) -> tuple[Tensor, Tensor]:
    scale = _tensor(scale)
    return (_tensor(x) - loc) / scale, scale


def _outside(logp: Tensor, outside: Any) -> Tensor:
    """-inf where ``outside`` (a boolean tensor or array) holds; the gradient there is 0."""
    return F.where(outside, -np.inf, logp)


def _norm_logpdf(x, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    return -(z * z) / 2 - F.log(scale) - LOG_2PI / 2


def _norm_logcdf(x, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return _ops.log_ndtr(z)


def _norm_logsf(x, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return _ops.log_ndtr(-z)


def _distribution(logpdf: Any, cdf: Any, sf: Any, entropy: Any, logcdf: Any = None, logsf: Any = None) -> Any:
    """A distribution's namespace; pdf, logcdf and logsf follow from the others where not given."""
    return SimpleNamespace(
        logpdf=logpdf,
        pdf=lambda *args, **kwargs: F.exp(logpdf(*args, **kwargs)),
        cdf=cdf,
        logcdf=logcdf or (lambda *args, **kwargs: F.log(cdf(*args, **kwargs))),
        sf=sf,
        logsf=logsf or (lambda *args, **kwargs: F.log(sf(*args, **kwargs))),
        entropy=entropy,
    )


def _norm_cdf(x, loc=0.0, scale=1.0):
    """Φ(z), with z = ±inf answered as 1 and 0 with slope 0 (exp(log Φ) would give 0·inf there)."""
    z, _ = _standard(x, loc, scale)
    infinite = F.abs(z) == np.inf
    upper = z.detach() > 0
    return F.where(infinite, F.where(upper, 1.0, 0.0), F.exp(_ops.log_ndtr(F.where(infinite, 0.0, z))))


norm = _distribution(
    _norm_logpdf,
    cdf=_norm_cdf,
    sf=lambda x, loc=0.0, scale=1.0: _norm_cdf(-_tensor(x), -_tensor(loc), scale),
    entropy=lambda loc=0.0, scale=1.0: 0.5 * (1 + LOG_2PI) + F.log(_tensor(scale)) + 0 * _tensor(loc),
    logcdf=_norm_logcdf,
    logsf=_norm_logsf,
)


def _finite_t_logpdf(x, df, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    df = _tensor(df)
    half = (df + 1) / 2
    return gammaln(half) - gammaln(df / 2) - 0.5 * F.log(df * math.pi) - F.log(scale) - half * F.log1p(z * z / df)


def _finite_t_cdf(x, df, loc=0.0, scale=1.0):
    """P(T <= z): in the lower tail 0.5 I_{df/(df+z²)}(df/2, 1/2) (no cancellation), elsewhere
    0.5 + sign(z) 0.5 I_{z²/(df+z²)}(1/2, df/2) (accurate near 0). Near z = 0 that form is a function of |z|
    whose derivatives are sums of terms of size 1/|z| that cancel, so for |z| < 1e-3 the cdf is its Taylor
    polynomial 0.5 + pdf(0)(z - (df+1)/(6 df) z³ + (df+1)(df+3)/(40 df²) z⁵) (the next term is below 1e-20)."""
    z, _ = _standard(x, loc, scale)
    df = _tensor(df)
    x_sign = z.detach()
    lower, centre, infinite = z < -1, F.abs(z) < 1e-3, F.abs(z) == np.inf
    z = F.where(infinite, -2.0, z)  # (±inf answered below: 0 and 1, slope 0)
    # each form on its own elements (chosen with where, so vmap can batch it), the other elements given a
    # harmless point (no 0·inf in the gradient)
    low = F.where(lower, z, -2.0)
    tail = 0.5 * betainc(df / 2, 0.5, 1 / (1 + low * low / df))  # (1 at z = -inf)
    mid = F.where(lower | centre, 0.5, z)
    middle = 0.5 + F.sign(mid) * 0.5 * betainc(0.5, df / 2, 1 / (1 + df / (mid * mid)))  # (1 at z = inf)
    near = F.where(centre, z, 0.0)
    squared = near * near
    density_at_zero = F.exp(gammaln((df + 1) / 2) - gammaln(df / 2) - 0.5 * F.log(df * math.pi))
    series = 1 - (df + 1) / (6 * df) * squared + (df + 1) * (df + 3) / (40 * df * df) * squared * squared
    cdf = F.where(centre, 0.5 + density_at_zero * near * series, F.where(lower, tail, middle))
    return F.where(infinite, F.where(x_sign > 0, 1.0, 0.0), cdf)


def _finite_t_entropy(df, loc=0.0, scale=1.0):
    df = _tensor(df)
    half = (df + 1) / 2
    return (
        half * (digamma(half) - digamma(df / 2))
        + 0.5 * F.log(df)
        + _ops.betaln(df / 2, _tensor(0.5))
        + F.log(_tensor(scale))
        + 0 * _tensor(loc)
    )


def _t_or_normal(finite: Any, normal: Any, df_position: int) -> Any:
    """t with df = inf is the normal distribution (as SciPy): there the normal's formula, elsewhere t's with a
    harmless df in place of inf (no nan in the gradient)."""

    import functools

    @functools.wraps(finite)
    def fn(*args: Any) -> Any:
        args = list(args)
        df = _tensor(args[df_position])
        infinite = df == np.inf
        args[df_position] = F.where(infinite, 1.0, df)
        rest = args[:df_position] + args[df_position + 1 :]
        return F.where(infinite, normal(*rest), finite(*args))

    return fn


_t_logpdf = _t_or_normal(_finite_t_logpdf, _norm_logpdf, 1)
_t_cdf = _t_or_normal(_finite_t_cdf, _norm_cdf, 1)


def _t_entropy(df, loc=0.0, scale=1.0):
    return _t_or_normal(_finite_t_entropy, norm.entropy, 0)(df, loc, scale)


t = _distribution(
    _t_logpdf,
    cdf=_t_cdf,
    sf=lambda x, df, loc=0.0, scale=1.0: _t_cdf(-_tensor(x), df, -_tensor(loc), scale),
    entropy=_t_entropy,
)


def _gamma_logpdf(x, a, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    a = _tensor(a)
    outside = z < 0
    safe = F.where(outside, 1.0, z)
    return _outside(xlogy(a - 1, safe) - safe - gammaln(a) - F.log(scale), outside)


def _gamma_cdf(x, a, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return gammainc(a, F.where(z >= 0, z, 0.0))  # at z = 0 the slope from the right (the support's side)


def _gamma_sf(x, a, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return gammaincc(a, F.where(z >= 0, z, 0.0))


def _gamma_entropy(a, loc=0.0, scale=1.0):
    a = _tensor(a)
    return a + gammaln(a) + (1 - a) * digamma(a) + F.log(_tensor(scale)) + 0 * _tensor(loc)


gamma = _distribution(_gamma_logpdf, cdf=_gamma_cdf, sf=_gamma_sf, entropy=_gamma_entropy)


chi2 = _distribution(
    lambda x, df, loc=0.0, scale=1.0: _gamma_logpdf(x, _tensor(df) / 2, loc, _tensor(scale) * 2),
    cdf=lambda x, df, loc=0.0, scale=1.0: _gamma_cdf(x, _tensor(df) / 2, loc, _tensor(scale) * 2),
    sf=lambda x, df, loc=0.0, scale=1.0: _gamma_sf(x, _tensor(df) / 2, loc, _tensor(scale) * 2),
    entropy=lambda df, loc=0.0, scale=1.0: _gamma_entropy(_tensor(df) / 2, loc, _tensor(scale) * 2),
)


def _beta_logpdf(x, a, b, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    a, b = _tensor(a), _tensor(b)
    outside = (z < 0) | (z > 1)
    safe = F.where(outside, 0.5, z)
    logp = xlogy(a - 1, safe) + xlog1py(b - 1, -safe) - _ops.betaln(a, b) - F.log(scale)
    return _outside(logp, outside)


def _beta_cdf(x, a, b, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return betainc(a, b, F.clip(z, 0.0, 1.0))


def _beta_sf(x, a, b, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return betainc(b, a, F.clip(1 - z, 0.0, 1.0))


def _beta_entropy(a, b, loc=0.0, scale=1.0):
    a, b = _tensor(a), _tensor(b)
    return (
        _ops.betaln(a, b)
        - (a - 1) * digamma(a)
        - (b - 1) * digamma(b)
        + (a + b - 2) * digamma(a + b)
        + F.log(_tensor(scale))
        + 0 * _tensor(loc)
    )


beta = _distribution(_beta_logpdf, cdf=_beta_cdf, sf=_beta_sf, entropy=_beta_entropy)


def _counts(k: Any, loc: Any) -> np.ndarray:
    if type(k) is Tensor and k.requires_grad:
        raise TypeError("poisson: no derivative with respect to k (a count): pass a number or an array")
    return np.asarray(k.data if type(k) is Tensor else k, dtype=float) - loc


def _poisson_logpmf(k, mu, loc=0):
    k = _counts(k, loc)
    mu = _tensor(mu)
    outside = (k < 0) | (k != np.floor(k))
    safe = np.where(outside, 0, k)
    return _outside(xlogy(safe, mu) - mu - gammaln(safe + 1.0), outside)


def _poisson_cdf(k, mu, loc=0):
    """P(K <= k) = Q(floor(k) + 1, mu); 0 below the support."""
    k = np.floor(_counts(k, loc))
    below = k < 0
    value = gammaincc(np.where(below, 0, k) + 1.0, mu)
    return F.where(below, 0.0, value) if below.any() else value


def _poisson_sf(k, mu, loc=0):
    """P(K > k) = P(floor(k) + 1, mu); 1 below the support."""
    k = np.floor(_counts(k, loc))
    below = k < 0
    value = gammainc(np.where(below, 0, k) + 1.0, mu)
    return F.where(below, 1.0, value) if below.any() else value


def _poisson_entropy(mu, loc=0):
    """-sum p log p over the counts that carry the mass: mu ± 40 sqrt(mu) + 40 (the rest is below 1e-300)."""
    mu = _tensor(mu)
    rates = np.asarray(mu.data, dtype=float)
    width = int(80 * math.sqrt(float(rates.max(initial=0.0))) + 80)
    start = np.floor(np.maximum(rates - width / 2, 0.0))
    k = start[..., None] + np.arange(width)
    logp = _poisson_logpmf(k, F.expand_dims(mu, -1))
    return -F.sum(F.exp(logp) * logp, axis=-1) + 0 * loc


poisson = SimpleNamespace(
    logpmf=_poisson_logpmf,
    pmf=lambda k, mu, loc=0: F.exp(_poisson_logpmf(k, mu, loc)),
    cdf=_poisson_cdf,
    logcdf=lambda k, mu, loc=0: F.log(_poisson_cdf(k, mu, loc)),
    sf=_poisson_sf,
    logsf=lambda k, mu, loc=0: F.log(_poisson_sf(k, mu, loc)),
    entropy=_poisson_entropy,
)


def _mvn_parameters(mean: Any, cov: Any) -> tuple:
    """SciPy's rules: the dimension from mean (if a vector), else from cov; cov a number (times I), a vector (its
    diagonal) or a matrix."""
    cov = _tensor(cov)
    mean = None if mean is None else _tensor(mean)
    if mean is not None and mean.ndim > 1:
        raise ValueError(f"multivariate_normal: mean must be a number or a vector, got shape {mean.shape}")
    d = mean.shape[0] if mean is not None and mean.ndim == 1 else (cov.shape[0] if cov.ndim else 1)
    if cov.ndim == 0:
        cov = cov * np.eye(d)
    elif cov.ndim == 1:
        cov = cov * np.eye(cov.shape[0])
    if cov.ndim != 2 or cov.shape != (d, d):
        raise ValueError(f"multivariate_normal: cov must be {d} x {d} for dimension {d}, got shape {cov.shape}")
    return (mean if mean is not None else 0.0), cov, d


def _mvn_logpdf(x, mean=None, cov=1.0, allow_singular=False):
    from .. import linalg

    mean, cov, d = _mvn_parameters(mean, cov)
    x = _tensor(x)
    if d == 1:  # every number is a point (SciPy's rule)
        x = F.expand_dims(x, -1)
    if x.shape[-1] != d:
        raise ValueError(f"multivariate_normal: x's last axis must have length {d}, got shape {x.shape}")
    centred = x - mean
    if allow_singular:  # the density on the covariance's support, through the pseudo-inverse and pseudo-determinant
        return _singular_mvn_logpdf(centred, cov)
    chol = linalg.cholesky(cov)  # also refuses a covariance that is not positive definite
    quad = F.sum(centred * (centred @ linalg.inv(cov)), axis=-1)
    logdet = 2 * F.sum(F.log(F.diagonal(chol)))
    return -0.5 * (quad + logdet + d * LOG_2PI)


def _singular_mvn_logpdf(centred, cov):
    from .. import linalg

    values, vectors = linalg.eigh(cov)
    spectrum = np.asarray(values.data)
    kept = spectrum > spectrum.max() * max(cov.shape) * np.finfo(float).eps
    rank = int(kept.sum())
    safe = F.where(kept, values, 1.0)
    projected = centred @ vectors
    quad = F.sum(F.where(kept, projected * projected / safe, 0.0), axis=-1)
    logdet = F.sum(F.where(kept, F.log(safe), 0.0))
    return -0.5 * (quad + logdet + rank * LOG_2PI)


def _mvn_entropy(mean=None, cov=1.0):
    from .. import linalg

    mean, cov, d = _mvn_parameters(mean, cov)
    shift = 0 * F.sum(mean) if type(mean) is Tensor else 0.0
    return 0.5 * d * (1 + LOG_2PI) + F.sum(F.log(F.diagonal(linalg.cholesky(cov)))) + shift


def _mvn_cdf_refused(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        "multivariate_normal.cdf/logcdf: SciPy computes them by randomised quasi-Monte Carlo integration (Genz's "
        "method), which has no derivative to follow; chainrule does not provide them. In one dimension use norm.cdf"
    )


_mvn_cdf_refused.refused = True  # (not listed among the supported functions)

multivariate_normal = SimpleNamespace(
    cdf=_mvn_cdf_refused,
    logcdf=_mvn_cdf_refused,
    logpdf=_mvn_logpdf,
    pdf=lambda x, mean=None, cov=1.0, allow_singular=False: F.exp(_mvn_logpdf(x, mean, cov, allow_singular)),
    entropy=_mvn_entropy,
)


def _check_dirichlet(x: Tensor, alpha: Tensor) -> None:
    """SciPy's checks (alpha > 0, x on the simplex), on plain values (under vmap each example is not seen)."""
    values, weights = x.data, alpha.data
    if not (isinstance(values, np.ndarray | np.generic) and isinstance(weights, np.ndarray | np.generic)):
        return
    if np.any(weights <= 0):
        raise ValueError(f"dirichlet: every alpha must be positive, got {weights}")
    if np.any(values < 0) or np.any(values > 1) or np.any(np.abs(np.sum(values, axis=0) - 1) > 1e-9):
        raise ValueError("dirichlet: x must lie on the simplex (entries in [0, 1] summing to 1 along the first axis)")


def _dirichlet_logpdf(x, alpha):
    """SciPy's layout: x of shape (K,) or (K, N) (the components along the first axis; K - 1 of them mean the last
    is 1 minus their sum), alpha of shape (K,)."""
    x, alpha = _tensor(x), _tensor(alpha)
    if alpha.ndim != 1:
        raise ValueError(f"dirichlet: alpha must be 1-d (K,), got shape {alpha.shape}")
    k = alpha.shape[0]
    if x.ndim == 0 or x.shape[0] not in (k, k - 1):
        raise ValueError(f"dirichlet: x must have {k} or {k - 1} components along its first axis, got {x.shape}")
    if x.shape[0] == k - 1:
        x = F.concatenate([x, 1 - F.sum(x, axis=0, keepdims=True)], axis=0)
    _check_dirichlet(x, alpha)
    weights = F.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    norm_term = F.sum(gammaln(alpha)) - gammaln(F.sum(alpha))
    return F.sum(xlogy(weights - 1, x), axis=0) - norm_term


def _dirichlet_entropy(alpha):
    alpha = _tensor(alpha)
    total = F.sum(alpha, axis=-1)
    log_beta = F.sum(gammaln(alpha), axis=-1) - gammaln(total)
    k = alpha.shape[-1]
    return log_beta + (total - k) * digamma(total) - F.sum((alpha - 1) * digamma(alpha), axis=-1)


dirichlet = SimpleNamespace(
    logpdf=_dirichlet_logpdf, pdf=lambda x, alpha: F.exp(_dirichlet_logpdf(x, alpha)), entropy=_dirichlet_entropy
)

# SciPy answers nan where a parameter is outside its domain; so do these (with gradient 0 there)
_POSITIVE = ("a", "b", "df", "scale")


def _nan_where_invalid(fn: Any, reference: Any) -> Any:
    """``fn`` answering nan where a parameter is outside its domain, computed there at a harmless value instead so
    that no nan or inf reaches the gradient (which is 0 there). Parameters are found by name in ``fn``'s signature,
    or in ``reference``'s when ``fn`` takes ``*args`` (pdf from logpdf, and so on)."""
    import functools
    import inspect

    signature = inspect.signature(fn)
    if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        signature = inspect.signature(reference)
    checked = [name for name in signature.parameters if name in _POSITIVE or name == "mu"]
    if not checked:
        return fn

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        bad = None
        for name in checked:
            value = _tensor(bound.arguments[name])
            outside = value.detach() < 0 if name == "mu" else value.detach() <= 0
            bound.arguments[name] = F.where(outside, 1.0, value)
            bad = outside if bad is None else bad | outside
        return F.where(bad, np.nan, fn(*bound.args, **bound.kwargs))

    return wrapped


for _distribution_namespace in (norm, t, gamma, chi2, beta, poisson):
    _reference = getattr(_distribution_namespace, "logpdf", None) or _distribution_namespace.logpmf
    for _name, _fn in list(vars(_distribution_namespace).items()):
        setattr(_distribution_namespace, _name, _nan_where_invalid(_fn, _reference))

__all__ = ["beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]
