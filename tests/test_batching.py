"""Batched derivatives (``batching.py``): the Jacobian taken with every direction in one pass, forward and
reverse, against central finite differences, on shapes and indices Hypothesis draws. A batching rule keeps
the batch axis in front of every other axis by bookkeeping; these tests are where a slip in it shows, so the
shapes include operands with batch axes of their own whose length equals the number of directions."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr


def numeric_jacobian(f, x, eps=1e-6):
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for position in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[position] = eps
        jac[(..., *position)] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


def plain(f):
    def run(x):
        with cr.no_grad():
            return f(cr.tensor(x)).numpy()

    return run


def assert_jacobians(f, x):
    expected = numeric_jacobian(plain(f), x)
    for mode in ("rev", "fwd"):
        got = cr.jacobian(f, mode=mode)(x).numpy()
        assert got.shape == expected.shape, (mode, got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=mode)


def assert_hessian(f, x):
    gradient = plain(cr.grad(f))
    expected = numeric_jacobian(lambda a: gradient(a), x)
    np.testing.assert_allclose(cr.hessian(f)(x).numpy(), expected, rtol=1e-5, atol=1e-6)


core = st.integers(1, 3)


@st.composite
def matmul_operands(draw):
    """Two operands of matmul: each a vector or a stack of matrices, with batch axes that broadcast."""
    n, k, m = draw(core), draw(core), draw(core)
    batch = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    left_batch = batch[draw(st.integers(0, len(batch))) :]
    right_batch = tuple(1 if draw(st.booleans()) else d for d in batch[draw(st.integers(0, len(batch))) :])
    left = (k,) if draw(st.booleans()) else (*left_batch, n, k)
    right = (k,) if draw(st.booleans()) else (*right_batch, k, m)
    seed = draw(st.integers(0, 2**16))
    return left, right, seed


@settings(max_examples=150)  # cheap examples: many, so rare forms come up
@given(matmul_operands(), st.booleans())
def test_matmul_either_operand_against_finite_differences(operands, differentiate_left):
    left, right, seed = operands
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(left), rng.standard_normal(right)
    if differentiate_left:
        assert_jacobians(lambda x: cr.matmul(x, b), a)
        assert_hessian(lambda x: cr.sum(cr.tanh(cr.matmul(x, b))), a)
    else:
        assert_jacobians(lambda x: cr.matmul(a, x), b)
        assert_hessian(lambda x: cr.sum(cr.tanh(cr.matmul(a, x))), b)


def test_matmul_with_as_many_batch_matrices_as_directions():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 2))  # 4 directions, and 4 matrices in X
    for count in (3, 4, 5):
        x = rng.standard_normal((count, 3, 2))
        assert_hessian(lambda w, x=x: cr.sum(cr.tanh(x @ w)), w)
        assert_jacobians(lambda w, x=x: w.T[:, :2] @ cr.transpose(x, (0, 2, 1)), w)


@st.composite
def indices(draw):
    """An index into a (3, 4, 5) array mixing ints, int arrays (repeats, negatives), slices, None and masks."""
    shape = (3, 4, 5)
    parts = []
    axis = 0
    arrays_shape = draw(st.sampled_from([(), (2,), (2, 1), (1, 3)]))
    while axis < len(shape):
        kind = draw(st.sampled_from(["int", "array", "slice", "none", "mask"]))
        n = shape[axis]
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "array":
            size = int(np.prod(arrays_shape)) if arrays_shape else 1
            values = draw(st.lists(st.integers(-n, n - 1), min_size=size, max_size=size))
            parts.append(np.array(values).reshape(arrays_shape) if arrays_shape else np.array(values[0]))
        elif kind == "slice":
            start = draw(st.integers(0, n - 1))
            parts.append(slice(start, None, draw(st.sampled_from([1, 2, -1]))) if start else slice(None))
        elif kind == "none":
            parts.append(None)
            continue
        else:
            mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
            if arrays_shape not in ((), (2,)) or not mask.any():
                parts.append(slice(None))
            else:
                parts.append(mask)
                arrays_shape = (int(mask.sum()),) if arrays_shape == () else arrays_shape
                if mask.sum() != (arrays_shape[0] if arrays_shape else 1):
                    parts[-1] = slice(None)
        axis += 1
    return tuple(parts[: draw(st.integers(1, len(parts)))])


@settings(max_examples=150)  # cheap examples: many, so rare forms come up
@given(indices(), st.integers(0, 2**16))
def test_indexing_against_finite_differences(index, seed):
    x = np.random.default_rng(seed).standard_normal((3, 4, 5))
    try:
        np.asarray(x[index])
    except IndexError:
        return  # masks and arrays that do not broadcast together: NumPy refuses too
    assert_jacobians(lambda t: t[index] * 1.0, x)


def test_int_and_array_separated_by_a_slice():
    rng = np.random.default_rng(1)
    x, m = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 2))
    assert_jacobians(lambda t: m @ t[0, :, [1, 1]], x)
    assert_jacobians(lambda t: t[[0, 1], :, 0], x)
    assert_hessian(lambda t: cr.sum(cr.sin(t[1, :, [0, 2, 2]])), x)


@st.composite
def einsums(draw):
    """An einsum of two operands whose ellipsis covers different numbers of axes, in any position."""
    hidden = draw(st.lists(st.integers(1, 3), max_size=2))
    a_hidden = hidden[draw(st.integers(0, len(hidden))) :]
    b_hidden = [1 if draw(st.booleans()) else d for d in hidden[draw(st.integers(0, len(hidden))) :]]
    j, k, lo = draw(core), draw(core), draw(core)

    def place(letters, sizes, hidden):
        at = draw(st.integers(0, len(letters)))
        return letters[:at] + "..." + letters[at:], sizes[:at] + tuple(hidden) + sizes[at:]

    a_spec, a_shape = place("jk", (j, k), a_hidden)
    b_spec, b_shape = place("lj", (lo, j), b_hidden)
    out = draw(st.sampled_from(["lk...", "...lk", "l...k", "k...", "...", "jl..."]))
    return f"{a_spec},{b_spec}->{out}", a_shape, b_shape, draw(st.integers(0, 2**16))


@settings(max_examples=150)  # cheap examples: many, so rare forms come up
@given(einsums())
def test_einsum_with_an_ellipsis_against_finite_differences(case):
    spec, a_shape, b_shape, seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    assert_jacobians(lambda x: cr.einsum(spec, x, b), a)
    assert_jacobians(lambda x: cr.einsum(spec, a, x), b)
    g = cr.grad(lambda x: cr.sum(cr.einsum(spec, x, b) ** 2))(a).numpy()
    np.testing.assert_allclose(g, numeric_jacobian(lambda x: np.sum(np.einsum(spec, x, b) ** 2), a), rtol=1e-5)
