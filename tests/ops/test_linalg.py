"""matmul (batch broadcasting and 1-D cases), dot, outer and einsum against NumPy and finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from tests.gradients import check_grads

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    np.testing.assert_allclose(cr.matmul(a, b).data, np.matmul(a, b), rtol=1e-12)
    np.testing.assert_allclose((cr.tensor(a) @ b).data, a @ b, rtol=1e-12)
    np.testing.assert_allclose((a @ cr.tensor(b)).data, a @ b, rtol=1e-12)
    check_grads(cr.matmul, a, b)


def test_matmul_error_names_shapes_and_fix():
    with pytest.raises(cr.ShapeError, match=r"matmul.*\(2, 3\), \(2, 3\).*transpose"):
        cr.tensor(np.ones((2, 3))) @ cr.tensor(np.ones((2, 3)))
    with pytest.raises(cr.ShapeError, match="0-d"):
        cr.matmul(np.ones(()), np.ones(3))


@pytest.mark.parametrize(
    "shapes", [((), (3,)), ((3,), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3))], ids=str
)
def test_dot(shapes):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    np.testing.assert_allclose(cr.dot(a, b).data, np.dot(a, b), rtol=1e-12)
    check_grads(cr.dot, a, b)


def test_outer():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(3), rng.standard_normal((2, 2))
    np.testing.assert_allclose(cr.outer(a, b).data, np.outer(a, b))
    check_grads(cr.outer, a, b)


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ii->", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]),
    ("...i,...i", [(4, 3), (3,)]),
    ("...i->...", [(2, 3, 4)]),
    ("ijk,ikl,lm->jm", [(2, 3, 2), (2, 2, 3), (3, 2)]),
    ("iij->j", [(2, 2, 3)]),
    ("ab,ab->a", [(1, 3), (4, 3)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum(spec, shapes):
    rng = np.random.default_rng(3)
    operands = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(cr.einsum(spec, *operands).data, np.einsum(spec, *operands), rtol=1e-12)
    check_grads(lambda *ts: cr.einsum(spec, *ts), *operands)


@given(m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4), batch=st.integers(1, 3), seed=st.integers(0, 999))
def test_matmul_shapes_property(m, k, n, batch, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((batch, m, k)), rng.standard_normal((k, n))
    np.testing.assert_allclose(cr.matmul(a, b).data, a @ b, rtol=1e-12)
    check_grads(cr.matmul, a, b, seed=seed)


@given(st.integers(0, 2**16), st.integers(0, 2))
def test_tensordot_inner_and_moveaxis_against_numpy_and_finite_differences(seed, count):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 2))
    pairs = [([], []), ([2], [0]), ([1, 2], [1, 0])][count]
    for fn, args in (
        (lambda m, x, y: m.tensordot(x, y, axes=pairs), (a, b)),
        (lambda m, x, y: m.tensordot(x, y, axes=count), (a, rng.standard_normal((3, 4, 2)[2 - count :]))),
        (lambda m, x, y: m.inner(x, y), (a, rng.standard_normal((5, 4)))),
        (lambda m, x, y: m.moveaxis(x, [0, -1], [-1, 1]) * y, (a, 2.0)),
    ):
        np.testing.assert_allclose(fn(cr, *[cr.tensor(v) for v in args]).numpy(), fn(np, *args), rtol=1e-12)
        check_grads(lambda x, fn=fn, args=args: fn(cr, x, args[1]), args[0])
