"""``cr.scipy.stats``: densities of SciPy's distributions on tensors, differentiable in the data and in every
continuous parameter (they are closed forms in chainrule's operations), and the normal distribution whole.

``norm``: pdf logpdf cdf logcdf sf logsf entropy; ``t``, ``gamma``, ``beta``, ``chi2``: pdf and logpdf, and
``gamma`` and ``chi2`` cdf (``gamma`` sf), differentiable in the data, loc and scale (the shape has no closed form:
a tensor that requires grad there is refused by name);
``poisson``: pmf and logpmf (differentiable in the rate; k counts); ``multivariate_normal`` and ``dirichlet``:
pdf and logpdf. Outside a distribution's support the density is 0 (log density -inf), as in SciPy.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import functions as F
from ..ops import special as _ops
from ..tensor import Tensor
from .special import _tensor, gammainc, gammaln, xlog1py, xlogy

LOG_2PI = math.log(2 * math.pi)


def _standard(x: Any, loc: Any, scale: Any) -> tuple[Tensor, Tensor]:
    scale = _tensor(scale)
    return (_tensor(x) - loc) / scale, scale


def _outside(logp: Tensor, outside: Any) -> Tensor:
    """-inf where ``outside`` (a boolean array) holds; the gradient there is 0."""
    outside = np.asarray(outside)
    if not outside.any():
        return logp
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


norm = SimpleNamespace(
    logpdf=_norm_logpdf,
    pdf=lambda x, loc=0.0, scale=1.0: F.exp(_norm_logpdf(x, loc, scale)),
    logcdf=_norm_logcdf,
    cdf=lambda x, loc=0.0, scale=1.0: F.exp(_norm_logcdf(x, loc, scale)),
    logsf=_norm_logsf,
    sf=lambda x, loc=0.0, scale=1.0: F.exp(_norm_logsf(x, loc, scale)),
    entropy=lambda loc=0.0, scale=1.0: 0.5 * (1 + LOG_2PI) + F.log(_tensor(scale)) + 0 * _tensor(loc),
)


def _t_logpdf(x, df, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    df = _tensor(df)
    half = (df + 1) / 2
    return gammaln(half) - gammaln(df / 2) - 0.5 * F.log(df * math.pi) - F.log(scale) - half * F.log1p(z * z / df)


t = SimpleNamespace(logpdf=_t_logpdf, pdf=lambda x, df, loc=0.0, scale=1.0: F.exp(_t_logpdf(x, df, loc, scale)))


def _gamma_logpdf(x, a, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    a = _tensor(a)
    outside = np.asarray(z.data) < 0
    safe = F.where(outside, 1.0, z)
    return _outside(xlogy(a - 1, safe) - safe - gammaln(a) - F.log(scale), outside)


def _gamma_cdf(x, a, loc=0.0, scale=1.0):
    z, _ = _standard(x, loc, scale)
    return gammainc(a, F.maximum(z, 0.0))


gamma = SimpleNamespace(
    logpdf=_gamma_logpdf,
    pdf=lambda x, a, loc=0.0, scale=1.0: F.exp(_gamma_logpdf(x, a, loc, scale)),
    cdf=_gamma_cdf,
    sf=lambda x, a, loc=0.0, scale=1.0: 1 - _gamma_cdf(x, a, loc, scale),
)


def _chi2_logpdf(x, df, loc=0.0, scale=1.0):
    return _gamma_logpdf(x, _tensor(df) / 2, loc, _tensor(scale) * 2)


chi2 = SimpleNamespace(
    logpdf=_chi2_logpdf,
    pdf=lambda x, df, loc=0.0, scale=1.0: F.exp(_chi2_logpdf(x, df, loc, scale)),
    cdf=lambda x, df, loc=0.0, scale=1.0: _gamma_cdf(x, df / 2, loc, _tensor(scale) * 2),
)


def _beta_logpdf(x, a, b, loc=0.0, scale=1.0):
    z, scale = _standard(x, loc, scale)
    a, b = _tensor(a), _tensor(b)
    values = np.asarray(z.data)
    outside = (values < 0) | (values > 1)
    safe = F.where(outside, 0.5, z)
    logp = xlogy(a - 1, safe) + xlog1py(b - 1, -safe) - _ops.betaln(a, b) - F.log(scale)
    return _outside(logp, outside)


beta = SimpleNamespace(
    logpdf=_beta_logpdf, pdf=lambda x, a, b, loc=0.0, scale=1.0: F.exp(_beta_logpdf(x, a, b, loc, scale))
)


def _poisson_logpmf(k, mu, loc=0):
    k = np.asarray(k.data if type(k) is Tensor else k) - loc
    mu = _tensor(mu)
    outside = (k < 0) | (k != np.floor(k))
    safe = np.where(outside, 0, k)
    return _outside(xlogy(safe, mu) - mu - gammaln(safe + 1.0), outside)


poisson = SimpleNamespace(logpmf=_poisson_logpmf, pmf=lambda k, mu, loc=0: F.exp(_poisson_logpmf(k, mu, loc)))


def _mvn_logpdf(x, mean=None, cov=1.0):
    from .. import linalg

    x = _tensor(x)
    d = x.shape[-1]
    cov = _tensor(cov)
    if cov.ndim == 0:
        cov = cov * np.eye(d)
    centred = x - (_tensor(mean) if mean is not None else 0.0)
    chol = linalg.cholesky(cov)  # also refuses a covariance that is not positive definite
    quad = F.sum(centred * (centred @ linalg.inv(cov)), axis=-1)
    logdet = 2 * F.sum(F.log(F.diagonal(chol)))
    return -0.5 * (quad + logdet + d * LOG_2PI)


multivariate_normal = SimpleNamespace(
    logpdf=_mvn_logpdf, pdf=lambda x, mean=None, cov=1.0: F.exp(_mvn_logpdf(x, mean, cov))
)


def _dirichlet_logpdf(x, alpha):
    x, alpha = _tensor(x), _tensor(alpha)
    norm_term = F.sum(gammaln(alpha), axis=-1) - gammaln(F.sum(alpha, axis=-1))
    return F.sum(xlogy(alpha - 1, x), axis=-1) - norm_term


dirichlet = SimpleNamespace(logpdf=_dirichlet_logpdf, pdf=lambda x, alpha: F.exp(_dirichlet_logpdf(x, alpha)))

__all__ = ["beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]
