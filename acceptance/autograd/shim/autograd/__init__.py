"""A stand-in for HIPS autograd's public API, built on chainrule: each name maps to chainrule's function of the
same meaning, so autograd's own test files and example programs run unchanged against chainrule (see ../../run.py).
Only names are translated here; the derivatives are chainrule's."""

from . import builtins as _builtins
from .differential_operators import (
    checkpoint,
    deriv,
    elementwise_grad,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    holomorphic_grad,
    jacobian,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    value_and_grad,
    vector_jacobian_product,
)

dict = _builtins.dict
isinstance = _builtins.isinstance
list = _builtins.list
tuple = _builtins.tuple
