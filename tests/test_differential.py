"""Randomized differential test: random programs of the documented operations (broadcasting, indexing, reductions,
shape changes, products, in-place changes, checkpoint, custom_vjp) checked against NumPy for their value, and for
every derivative (backward, grad, grad of grad, vjp, jvp, hvp, hessian, both Jacobian modes) against central finite
differences and against each other. Also: transforms never change their inputs, no two leaves' ``.grad`` share
memory, and one minimal reproduction per class of failure this test has found.

A few seconds of programs by default; ``CHAINRULE_DIFFERENTIAL_PROGRAMS=2000`` runs more. Program ``n`` and its
inputs come from seed ``n``: a failure prints both, and ``test_random_program[n]`` runs it again.
"""

import contextlib
import os
import re
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest

import chainrule as cr

PROGRAMS = int(os.environ.get("CHAINRULE_DIFFERENTIAL_PROGRAMS", "200"))
MAX_SIZE = 48  # elements per value: Jacobians and Hessians stay small


def _logsumexp(x, axis=None, keepdims=False):
    top = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _in_place(m, x, y, index=None):  # t += y or t[index] = y, on a copy (a tensor for chainrule)
    t = m.multiply(x, 1.0)
    if index is None:
        t += y
    else:
        t[index] = y
    return t


# Both namespaces a program runs in: NumPy as the reference (plus what it lacks), and chainrule (plus custom rules,
# their bwd in chainrule operations so that forward mode can transpose it).
REF = SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("_")})
REF.sigmoid, REF.softplus = (lambda x: 1 / (1 + np.exp(-x))), (lambda x: np.logaddexp(0.0, x))
REF.softmax = lambda x, axis=-1: np.exp(x - _logsumexp(x, axis, True))
REF.log_softmax = lambda x, axis=-1: x - _logsumexp(x, axis, True)
REF.relu, REF.logsumexp, REF.flatten = (lambda x: np.maximum(x, 0.0)), _logsumexp, np.ravel
REF.cube, REF.mul, REF.checkpoint = (lambda x: x**3), (lambda a, b: a * b), (lambda f: f)
CR = SimpleNamespace(**{k: getattr(cr, k) for k in dir(cr) if not k.startswith("_")})
CR.cube = cr.custom_vjp(lambda x: x**3).defvjp(lambda x: (x**3, x), lambda x, g: (3 * x * x * g,))
CR.mul = cr.custom_vjp(lambda a, b: a * b).defvjp(lambda a, b: (a * b, (a, b)), lambda r, g: (g * r[1], g * r[0]))
REF.in_place, CR.in_place = partial(_in_place, REF), partial(_in_place, CR)

# Elementwise functions, fed values inside their domains so that finite differences are valid.
UNARY = {name: f"{name}(x)" for name in "sin cos tanh arctan sigmoid softplus square exp expm1 sinh cosh".split()}
UNARY.update({k: k for k in ["-x", "log(x*x + 0.5)", "sqrt(x*x + 0.5)", "log1p(x*x)", "arcsin(0.9*tanh(x))"]})
UNARY.update({k: k for k in ["arccos(0.9*tanh(x))", "tan(tanh(x))", "power(x*x + 0.5, -1.5)", "x**3", "cube(x)"]})
UNARY.update({"abs": "abs(x)", "relu": "relu(x)"})  # kinks: only away from 0
BINARY = ["add(a, b)", "a - b", "a * b", "divide(a, b*b + 0.5)", "power(a*a + 0.5, tanh(b))", "mul(a, b)"]
BINARY += ["maximum(a, b)", "minimum(a, b)", "checkpoint(lambda p, q: sin(p) * q + p)(a, b)"]
NUMPY_HAS = {"sin", "cos", "tanh", "exp", "sum", "mean", "max", "min", "prod", "var", "std", "where"}


def _compile(text):
    """A step's text ('log(v3*v3 + 0.5)') as a function of (namespace, values): one source for NumPy, for chainrule
    and for the printed program. 'np.f' calls NumPy's own function (on tensors, it dispatches to chainrule)."""
    code = re.sub(r"(?<![\w.])(?!lambda\b)([a-z_]\w*)\(", r"m.\1(", text)
    fn = eval("lambda m, v, np_: " + re.sub(r"\bv(\d+)\b", r"v[\1]", code).replace("np.", "np_."))
    return lambda m, v: fn(m, v, np if m is CR else REF)


def _far(a, b, gap=1e-3):
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) > gap))


def _clear_winner(x, axis, sign):
    """Max/min are smooth where each slice's extreme beats the others by a margin (or ties exactly: broadcast
    copies of one value)."""
    axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(x.ndim, 1))
    size = int(np.prod([x.shape[a] for a in axes]))
    rows = np.moveaxis(sign * x, axes, tuple(range(-len(axes), 0))).reshape(-1, size)
    gaps = rows.max(axis=1, keepdims=True) - rows
    return bool(np.all((gaps == 0) | (gaps > 1e-3)))


def _fmt(part):
    if isinstance(part, slice):
        start, stop, step = ("" if v is None else str(v) for v in (part.start, part.stop, part.step))
        return f"{start}:{stop}" + (f":{step}" if step else "")
    if isinstance(part, (np.ndarray, np.generic)):
        return f"np.array({part.tolist()})" if np.ndim(part) else repr(part.item())
    return "..." if part is Ellipsis else repr(part)


class Program:
    """A random straight-line program: inputs v0..v(k-1), then one new value per step from earlier values."""

    def __init__(self, seed):
        self.seed, self.rng = seed, np.random.default_rng(seed)
        rng = self.rng
        base = tuple(int(n) for n in rng.integers(1, 5, rng.choice(4, p=[0.1, 0.2, 0.35, 0.35])))
        self.inputs = []  # shapes that broadcast together (0-d too): suffixes of base, some axes of length 1
        for _ in range(rng.integers(1, 4)):
            shape = [1 if rng.random() < 0.25 else n for n in base[rng.integers(0, len(base) + 1) // 2 :]]
            self.inputs.append(rng.standard_normal(shape))
        self.steps, self.values, self.lines, self.used, self.tags = [], list(self.inputs), [], set(), set()
        target, tries = rng.integers(3, 9), 0
        while len(self.steps) < target and tries < 400:  # a generator gives None or a step NumPy may refuse
            self._try(*(GENERATORS[rng.choice(len(GENERATORS), p=WEIGHTS)](self) or (None, ())))
            tries += 1
        last = len(self.values) - 1  # sometimes a second output (maybe the first again): nested outputs
        self.second = int(rng.integers(0, last + 1)) if rng.random() < 0.25 else None

    def pick(self):
        """Mostly a value no step has used yet, so that few steps are dead code."""
        fresh = [k for k in range(len(self.values)) if k not in self.used]
        k = int(self.rng.choice(fresh if fresh and self.rng.random() < 0.7 else len(self.values)))
        self.used.add(k)
        return k

    def _try(self, text, tags):
        if text is None:
            return
        fn = _compile(text)
        try:
            with np.errstate(all="raise"):
                value = np.asarray(fn(REF, self.values), dtype=np.float64)
        except (ValueError, IndexError, FloatingPointError, TypeError):
            return  # not a valid step for these shapes
        if 1 <= value.size <= MAX_SIZE and np.all(np.abs(value) < 100):
            self.steps, self.values, self.tags = [*self.steps, fn], [*self.values, value], self.tags | set(tags)
            self.lines.append(f"v{len(self.values) - 1} = {text}  # shape {value.shape}")

    def run(self, m, xs):
        values = list(xs)
        for fn in self.steps:
            values.append(fn(m, values))
        return values[-1] if self.second is None else (values[-1], values[self.second])

    def __str__(self):
        shapes = ", ".join(f"v{i}: {x.shape}" for i, x in enumerate(self.inputs))
        out = f"v{len(self.values) - 1}" + ("" if self.second is None else f", v{self.second}")
        return f"program of seed {self.seed} (inputs {shapes}):\n  " + "\n  ".join(self.lines) + f"\n  return {out}"


def _broadcasting(p, i):
    """An earlier value whose shape broadcasts with value i's."""
    fits = [all(1 in mn or mn[0] == mn[1] for mn in zip(p.values[i].shape[::-1], y.shape[::-1])) for y in p.values]
    return int(p.rng.choice(np.flatnonzero(fits)))


def gen_elementwise(p):
    i, rng = p.pick(), p.rng
    if rng.random() < 0.45:
        j, template = _broadcasting(p, i), str(rng.choice(BINARY))
        if template[:7] in ("maximum", "minimum") and not _far(p.values[i], p.values[j]):
            return None
        tags = {"custom_vjp_broadcast"} if template[:3] == "mul" and p.values[i].shape != p.values[j].shape else ()
        return re.sub(r"\bb\b", f"v{j}", re.sub(r"\ba\b", f"v{i}", template)), tags
    name = str(rng.choice(list(UNARY)))
    if name in ("abs", "relu") and not _far(p.values[i], 0):
        return None
    text = re.sub(r"\bx\b", f"v{i}", UNARY[name])
    if rng.random() < 0.15:  # a NumPy array on the left of an operator, broadcasting
        return f"{_fmt(np.round(rng.uniform(0.5, 1.5, p.values[i].shape[rng.integers(0, 2) :]), 2))} * {text}", ()
    return ("np." if name in NUMPY_HAS and rng.random() < 0.3 else "") + text, ()


def gen_reduce(p):
    i, rng, axis, extra = p.pick(), p.rng, None, ""
    name, x = str(rng.choice(["sum", "mean", "max", "min", "prod", "logsumexp", "var", "std"])), p.values[i]
    if x.ndim and rng.random() < 0.7:  # int, negative, tuple
        axes = rng.permutation(x.ndim)[: rng.integers(1, x.ndim + 1)] - x.ndim * rng.integers(0, 2)
        axis = int(axes[0]) if len(axes) == 1 and rng.random() < 0.5 else tuple(int(a) for a in axes)
    if name in ("var", "std"):
        extra = f", ddof={rng.integers(0, 2)}"
        if "1" in extra and x.size // np.size(np.sum(x, axis=axis)) < 2:
            return None
        if name == "std" and not np.all(np.var(x, axis=axis) > 1e-2):  # sqrt is not smooth at 0
            return None
    if name in ("max", "min") and not _clear_winner(x, axis, 1 if name == "max" else -1):
        return None
    args = f"axis={axis}, keepdims={rng.random() < 0.4}{extra}"
    if name in NUMPY_HAS and rng.random() < 0.4:  # np.sum(t) dispatches; t.sum() is the method
        return (f"np.{name}(v{i}, {args})" if rng.random() < 0.5 else f"v{i}.{name}({args})"), ()
    return f"{name}(v{i}, {args})", ()


def gen_shape(p):
    i, rng = p.pick(), p.rng
    x, kind = p.values[i], rng.choice(["reshape", "transpose", "swapaxes", "expand_dims", "squeeze", "broadcast_to"])
    if kind == "reshape":
        d = int(rng.choice([k for k in range(1, x.size + 1) if x.size % k == 0]))
        dims = [[], [x.size], [d, x.size // d], [x.size // d, 1, d]][rng.integers(0 if x.size == 1 else 1, 4)]
        dims = tuple(-1 if k == 0 and rng.random() < 0.3 else n for k, n in enumerate(dims))
        return (f"reshape(v{i}, {dims})" if rng.random() < 0.8 else f"flatten(v{i})"), ()
    if kind == "transpose":
        return (f"v{i}.T" if rng.random() < 0.3 else f"transpose(v{i}, {tuple(map(int, rng.permutation(x.ndim)))})"), ()
    if kind == "swapaxes" and x.ndim:
        return f"swapaxes(v{i}, {rng.integers(-x.ndim, x.ndim)}, {rng.integers(-x.ndim, x.ndim)})", ()
    if kind == "expand_dims":
        return f"expand_dims(v{i}, {rng.integers(-x.ndim - 1, x.ndim + 1)})", ()
    if kind == "squeeze":
        ones = [a for a in range(x.ndim) if x.shape[a] == 1]
        return f"squeeze(v{i}, {tuple(ones[: rng.integers(0, len(ones) + 1)]) or None})", ()
    shape = [n if n > 1 else int(rng.integers(1, 4)) for n in x.shape]  # and maybe a new leading axis
    return f"broadcast_to(v{i}, {tuple([int(rng.integers(1, 4))] * int(rng.integers(0, 2)) + shape)})", ()


def gen_index(p):
    """Ints (negative too), slices (negative steps), None, ..., int arrays and lists (repeats), masks, and mixes
    like v[0, :, [1, 1]], where NumPy moves the advanced axes to the front."""
    i, rng = p.pick(), p.rng
    x, parts, axis = p.values[i], [], 0
    shape = (int(rng.integers(1, 4)),) if rng.random() < 0.8 else (2, 2)  # of the int arrays (they broadcast)
    while axis < x.ndim and (not parts or rng.random() < 0.7):
        n, r = x.shape[axis], rng.random()
        if r < 0.25:
            parts.append(int(rng.integers(-n, n)))
        elif r < 0.55:
            lo, hi = (int(v) if rng.random() < 0.7 else None for v in rng.integers(-n - 1, n + 2, 2))
            parts.append(slice(lo, hi, int(rng.choice([1, 2, -1, -2])) if rng.random() < 0.5 else None))
        elif r < 0.85:
            index = rng.integers(-n, n, shape)
            parts.append(index.tolist() if rng.random() < 0.3 and len(shape) == 1 else index)
        else:
            parts.append(rng.random(n) < 0.6 if r < 0.95 else None)
            axis -= parts[-1] is None
        axis += 1
    if rng.random() < 0.2:
        parts.insert(int(rng.integers(0, len(parts) + 1)), Ellipsis)
    advanced = [k for k, q in enumerate(parts) if isinstance(q, (np.ndarray, list, int))]
    arrays = any(isinstance(q, (np.ndarray, list)) for q in parts)  # then ints count as advanced too
    separated = arrays and advanced[-1] - advanced[0] + 1 != len(advanced)
    return f"v{i}[{', '.join(_fmt(q) for q in parts) or '()'}]", {"separated_advanced"} if separated else ()


def gen_product(p):
    """matmul, @, dot, outer, einsum of two earlier values (or of a value and a constant that fits)."""
    i, j, rng = p.pick(), p.pick(), p.rng
    x, y, kind = p.values[i], p.values[j], str(rng.choice(["matmul", "@", "dot", "outer", "einsum", "einsum"]))
    if kind in ("outer", "einsum"):
        return (f"outer(v{i}, v{j})", ()) if kind == "outer" else _einsum(p, i, j)
    b = f"v{j}"
    if x.ndim and (y.ndim == 0 or y.shape[-2 if y.ndim > 1 else -1] != x.shape[-1]):
        y = np.round(rng.uniform(-1, 1, (x.shape[-1],) + (int(rng.integers(1, 3)),) * int(rng.integers(0, 2))), 2)
        b = _fmt(y)
    tags = {"dot_batch" if kind == "dot" else "matmul_batch"} if max(x.ndim, y.ndim) > 2 else ()
    return (f"v{i} @ {b}" if kind == "@" else f"{kind}(v{i}, {b})"), tags


def _einsum(p, i, j):
    """Shared letters where sizes agree, diagonals, '...' over any run of axes of each operand, implicit output."""
    rng, x, y, letters = p.rng, p.values[i], p.values[j], iter("abcdefghijkl")
    sub_x = [next(letters) for _ in x.shape]
    if x.ndim >= 2 and x.shape[0] == x.shape[1] and rng.random() < 0.3:
        sub_x[1] = sub_x[0]  # a diagonal
    sub_y = [
        next((a for a, n in zip(sub_x, x.shape) if n == s and rng.random() < 0.5), 0) or next(letters) for s in y.shape
    ]
    ellipsis = rng.random() < 0.4
    if ellipsis:
        cuts = [sorted(rng.integers(0, len(s) + 1, 2)) for s in (sub_x, sub_y)]
        sub_x, sub_y = [s[:a] + ["..."] + s[b:] for s, (a, b) in zip((sub_x, sub_y), cuts)]
    used = list(dict.fromkeys(c for c in sub_x + sub_y if c != "..."))
    out = [str(c) for c in rng.permutation(used)[: rng.integers(0, len(used) + 1)]] if used else []
    out[int(rng.integers(0, len(out) + 1)) : 0] = ["..."] if ellipsis else []
    spec = f"{''.join(sub_x)},{''.join(sub_y)}" + ("" if rng.random() < 0.3 else "->" + "".join(out))
    return f"einsum('{spec}', v{i}, v{j})", {"einsum_ellipsis"} if ellipsis else ()


def gen_other(p):
    """concatenate / stack (a value may repeat), where with a fixed mask, clip away from its bounds, softmax,
    log_softmax, in-place changes of a copy (+=, or assignment to distinct positions)."""
    i, rng = p.pick(), p.rng
    x, j = p.values[i], _broadcasting(p, i)
    kind = rng.choice(["concatenate", "stack", "where", "clip", "softmax", "log_softmax", "in_place"])
    if kind in ("concatenate", "stack") and x.ndim:
        seq = ", ".join(f"v{k}" for k in [i, p.pick()] + [i] * int(rng.random() < 0.3))
        return f"{kind}([{seq}], axis={rng.integers(-x.ndim, x.ndim)})", ()
    if kind == "where":
        mask = rng.random(np.broadcast_shapes(x.shape, p.values[j].shape)) < 0.5
        return f"{'np.' if rng.random() < 0.3 else ''}where({_fmt(mask)}, v{i}, v{j})", ()
    if kind == "clip":
        lo = round(float(rng.uniform(x.min() - 0.5, x.max())), 3)
        lo, hi = [(lo, round(lo + 1.0, 3)), (None, lo), (lo, None)][rng.choice(3, p=[0.6, 0.2, 0.2])]
        return (f"clip(v{i}, {lo}, {hi})", ()) if all(b is None or _far(x, b) for b in (lo, hi)) else None
    if kind in ("softmax", "log_softmax") and x.ndim:
        return f"{kind}(v{i}, axis={rng.integers(-x.ndim, x.ndim)})", ()
    if kind == "in_place" and x.ndim:
        at = [int(k) - x.shape[0] * int(rng.integers(0, 2)) for k in np.unique(rng.integers(0, x.shape[0], 2))]
        return f"in_place(v{i}, v{j}{'' if rng.random() < 0.5 else f', np.array({at})'})", ()
    return None


GENERATORS = [gen_elementwise, gen_reduce, gen_shape, gen_index, gen_product, gen_other]
WEIGHTS = [0.4, 0.12, 0.12, 0.14, 0.12, 0.1]


# -- the checks -------------------------------------------------------------------------------------------------


def _np(x):
    return x.detach().numpy() if isinstance(x, cr.Tensor) else np.asarray(x)


def _flat(tree):
    return np.concatenate([np.ravel(_np(leaf)).astype(np.float64) for leaf in cr.tree_flatten(tree)[0]])


def _matrix(rows, sizes):
    """A Jacobian (per output, per input: blocks of shape out.shape + in.shape) as one matrix, outputs x inputs."""
    return np.concatenate([np.concatenate([_np(b).reshape(n, -1) for b in row], axis=1) for row, n in zip(rows, sizes)])


def _shared(arrays):
    """Whether two of the arrays (or tensors) share memory."""
    arrays = [np.asarray(a.data if isinstance(a, cr.Tensor) else a) for a in arrays if a is not None]
    return any(np.shares_memory(a, b) for k, a in enumerate(arrays) for b in arrays[k + 1 :])


def assert_close(actual, expected, what, rtol=1e-7, atol=1e-9):
    """Within rtol, or atol times the largest expected magnitude (at least 1)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    error = np.abs(actual - expected) - rtol * np.abs(expected)
    if not np.all(error <= atol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))):
        raise AssertionError(f"{what}: worst error {np.max(error):.3g}\n got {actual}\n expected {expected}")


def check(program):
    rng = np.random.default_rng([program.seed, 1])
    xs, sizes = program.inputs, [x.size for x in program.inputs]
    argnums, split = tuple(range(len(xs))), np.cumsum(sizes)[:-1]
    ref = program.run(REF, xs)
    outs = ref if isinstance(ref, tuple) else (ref,)
    weights, vs = [rng.standard_normal(np.shape(o)) for o in outs], [rng.standard_normal(x.shape) for x in xs]
    v, u = _flat(vs), rng.standard_normal(sum(sizes))

    def f(*ts):
        return program.run(CR, ts)

    def loss(*ts, m=CR):  # the scalar: a random weighting of the outputs
        out = program.run(m, ts)
        return sum(m.sum(w * o) for w, o in zip(weights, out if isinstance(out, tuple) else (out,)))

    def along(fn, direction, eps=1e-5):  # central differences of fn at xs along a flat direction, extrapolated
        def central(h):  # (Richardson: error O(eps^4), as steep programs need)
            steps = [d.reshape(x.shape) * h for d, x in zip(np.split(direction, split), xs)]
            plus, minus = (fn(*[x + sign * s for x, s in zip(xs, steps)]) for sign in (1, -1))
            return (_flat(plus) - _flat(minus)) / (2 * h)

        return (4 * central(eps / 2) - central(eps)) / 3

    def grads(leaves):
        return _flat([t.grad if t.grad is not None else np.zeros(t.shape) for t in leaves])

    def cotangent(k):
        return tuple(k * w for w in weights) if len(outs) > 1 else k * weights[0]

    leaves = [cr.tensor(x, requires_grad=True) for x in xs]
    assert_close(_flat(f(*leaves)), _flat(ref), "value", rtol=1e-10)
    with cr.no_grad():
        assert_close(_flat(f(*xs)), _flat(ref), "value of NumPy inputs under no_grad", rtol=1e-10)
    # first order: backward, grad, vjp, both Jacobians, jvp; against each other and finite differences
    loss(*leaves).backward(create_graph=True)
    g = grads(leaves)
    assert not _shared([t.grad for t in leaves]), "two leaves' .grad share memory"
    assert_close(g @ v, along(partial(loss, m=REF), v)[0], "backward vs finite differences", 1e-5, 1e-6)
    with cr.no_grad() if rng.random() < 0.3 else contextlib.nullcontext():  # transforms record all the same
        assert_close(_flat(gs := cr.grad(loss, argnums)(*xs)), g, "grad vs backward")
        assert not _shared(gs), "two gradients from cr.grad share memory"
        out, pull = cr.vjp(f, *xs)
        assert_close(_flat(out), _flat(ref), "vjp value", rtol=1e-10)
        assert_close(_flat(pull(cotangent(1.0))), g, "vjp vs backward")
        assert_close(_flat(pull(cotangent(-2.0))), -2 * g, "vjp_fn called again, with another cotangent")
        rev, fwd = (cr.jacobian(f, argnums, mode=mode)(*xs) for mode in ("rev", "fwd"))
        rev, fwd = (_matrix(j if len(outs) > 1 else (j,), map(np.size, outs)) for j in (rev, fwd))
        assert_close(fwd, rev, "jacobian fwd vs rev")
        assert_close(_flat(weights) @ rev, g, "weights @ jacobian vs backward")
        out, tangent = cr.jvp(f, tuple(xs), tuple(vs))
        assert_close(_flat(out), _flat(ref), "jvp value", rtol=1e-10)
        assert_close(_flat(tangent), rev @ v, "jvp vs jacobian @ v")
        assert_close(_flat(tangent), along(lambda *a: program.run(REF, a), v), "jvp vs finite differences", 1e-5, 1e-6)
        # second order: hessian, hvp and finite differences of grad
        hess = _matrix(cr.hessian(loss, argnums)(*xs), sizes)
        assert_close(hess, hess.T, "hessian symmetry")
        assert_close(_flat(cr.hvp(loss, tuple(xs), tuple(vs))[1]), hess @ v, "hvp vs hessian")
        assert_close(hess @ v, along(cr.grad(loss, argnums), v), "hessian vs differences of grad", 1e-5, 1e-6)
    # grad of grad: through backward(create_graph=True), and backward through cr.grad of leaves
    ws = [w.reshape(x.shape) for w, x in zip(np.split(u, split), xs)]
    for second in (lambda: [t.grad for t in leaves], lambda: cr.grad(loss, argnums)(*leaves)):
        total = sum(cr.sum(gi * w) for gi, w in zip(second(), ws) if gi is not None)
        for t in leaves:
            t.grad = None
        if isinstance(total, cr.Tensor) and total.requires_grad:
            total.backward()
        assert_close(grads(leaves), hess @ u, "grad of grad vs hessian")


@pytest.mark.parametrize("seed", range(PROGRAMS))
def test_random_program(seed):
    program = Program(seed)
    try:
        check(program)
    except Exception as error:
        rerun = (
            f"tests/test_differential.py::test_random_program[{seed}] (with CHAINRULE_DIFFERENTIAL_PROGRAMS > {seed})"
        )
        raise AssertionError(f"{type(error).__name__}: {error}\n{program}\nrun again: {rerun}") from error


# -- transforms never change their inputs -----------------------------------------------------------------------


def _times_three(x):
    x *= 3
    return x * x


def _set_first(x):
    x[0] = 10.0
    return x * x


X = np.array([1.0, 2.0, 3.0])
MUTATING = {  # function, and its Jacobian at X as a function of the caller's x
    "no change": (lambda x: x * x, np.diag(2 * X)),
    "x *= 3": (_times_three, np.diag(18 * X)),
    "x[0] = 10": (_set_first, np.diag(2 * X * [0, 1, 1])),
}
TRANSFORMS = {  # transform of f at x, and the result expected from the Jacobian J
    "grad": (lambda f, x: cr.grad(lambda y: cr.sum(f(y)))(x), lambda J: J.sum(axis=0)),
    "vjp": (lambda f, x: cr.vjp(f, x)[1](np.ones(3))[0], lambda J: J.sum(axis=0)),
    "jvp": (lambda f, x: cr.jvp(f, (x,), (np.ones(3),))[1], lambda J: J.sum(axis=1)),
    "jacobian rev": (lambda f, x: cr.jacobian(f, mode="rev")(x), lambda J: J),
    "jacobian fwd": (lambda f, x: cr.jacobian(f, mode="fwd")(x), lambda J: J),
    "hessian": (lambda f, x: cr.hessian(lambda y: cr.sum(f(y)))(x), lambda J: np.diag(J.diagonal() / X)),
}
INPUTS = {"array": X.copy, "tensor": lambda: cr.tensor(X), "leaf": lambda: cr.tensor(X, requires_grad=True)}


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("mutation", list(MUTATING))
@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_transforms_never_change_their_inputs(transform, mutation, kind):
    (f, jacobian), (apply, expected) = MUTATING[mutation], TRANSFORMS[transform]
    x = INPUTS[kind]()
    try:
        result = _np(apply(f, x))
    except cr.ChainruleError:
        result = None  # refusing with a clear error is allowed; changing the caller's data is not
    assert np.array_equal(_np(x), X), f"the caller's input changed to {_np(x)}"
    if result is not None:
        assert_close(result, expected(jacobian), f"{transform} of a function doing {mutation}", rtol=1e-12)


# -- no two leaves' .grad share memory --------------------------------------------------------------------------

pass_through = cr.custom_vjp(lambda a, b: a + b).defvjp(lambda a, b: (a + b, None), lambda _, g: (g, g))
SHARING = {  # leaves a, b (shape 3), c (0-d) -> output; backward(gradient=g)?; create_graph?
    "a + b": (lambda a, b, c: cr.sum(a + b), False, False),
    "a + b + c": (lambda a, b, c: cr.sum(a + b + c), False, False),
    "sum(a) + sum(b)": (lambda a, b, c: cr.sum(a) + cr.sum(b), False, False),
    "a + b, create_graph": (lambda a, b, c: cr.sum(a + b), False, True),
    "a + b, gradient=g": (lambda a, b, c: a + b, True, False),
    "a + b, gradient=g, create_graph": (lambda a, b, c: a + b, True, True),
    "concatenate, gradient=g": (lambda a, b, c: cr.concatenate([a, b]), True, False),
    "custom_vjp returning g twice": (lambda a, b, c: cr.sum(pass_through(a, b)), False, False),
    "custom_vjp, gradient=g": (lambda a, b, c: pass_through(a, b), True, False),
}


@pytest.mark.parametrize("case", list(SHARING))
def test_leaf_grads_never_share_memory(case):
    fn, seeded, create = SHARING[case]
    leaves = [cr.tensor(v, requires_grad=True) for v in ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], 0.5)]
    out = fn(*leaves)
    g = np.arange(1.0, out.size + 1).reshape(out.shape) if seeded else None
    out.backward(gradient=g, create_graph=create)
    first = [np.array(t.grad.data) for t in leaves if t.grad is not None]
    assert not _shared([t.grad for t in leaves]), "two leaves' .grad share memory"
    assert not any(_shared([t.grad, g]) for t in leaves), "a leaf's .grad is a view of the gradient passed in"
    fn(*leaves).backward(gradient=g, create_graph=create)  # accumulating into one .grad must not change another
    for t, before in zip([t for t in leaves if t.grad is not None], first):
        assert_close(np.asarray(t.grad.data), 2 * before, "accumulated .grad")


# -- one minimal reproduction per class of failure found (besides the two tests above) ---------------------------

A, B = np.arange(12.0).reshape(3, 4) / 10, np.arange(24.0).reshape(2, 3, 4) / 10
REPROS = {  # class: (expression, what it must equal)
    "jvp: the tangent of an output returned twice is lost": (
        "cr.jvp(lambda x: (lambda y: (y, y))(2 * x), (1.0,), (1.0,))[1][1]", "2.0"),
    "hessian: one gradient tensor returned for two inputs loses a tangent": (
        "cr.hessian(lambda a, b: (a + b) ** 2, (0, 1))(1.0, 2.0)[1][0]", "2.0"),
    "jacobian fwd: separated advanced indices": (
        "cr.jacobian(lambda t: t[0, :, [1, 1]], mode='fwd')(B)", "cr.jacobian(lambda t: t[0, :, [1, 1]])(B)"),
    "jacobian fwd: matmul, batch axes in the other operand": (
        "cr.jacobian(lambda x: x @ np.ones((3, 1, 1)), mode='fwd')(np.zeros((3, 1)))",
        "cr.jacobian(lambda x: x @ np.ones((3, 1, 1)))(np.zeros((3, 1)))"),
    "grad: einsum whose '...' covers different axes in its operands": (
        "cr.grad(lambda x: cr.sum(cr.einsum('l...,k...l->k...', A, x)))(np.ones((2, 3)))",
        "np.broadcast_to(A.sum(axis=1), (2, 3))"),
    "vjp: checkpoint's vjp_fn answers a second call from the first": (
        "[pull := _checkpoint_pull(), pull(np.zeros(3)), pull(np.ones(3))[0]][-1]", "3 * X**2"),
}  # fmt: skip


def _checkpoint_pull():
    return cr.vjp(lambda a: cr.checkpoint(lambda p: p**3)(a) * 1.0, X)[1]


@pytest.mark.parametrize("case", list(REPROS))
def test_failure_class_found(case):
    got, expected = (eval(code) for code in REPROS[case])
    assert_close(_np(got), _np(expected), f"{case}: {REPROS[case][0]}")


# custom_vjp whose bwd returns a gradient in the broadcast shape (g * b for a 0-d a): reverse mode sums it to a's
# shape, and so does forward mode, which transposes bwd (it once raised "a cotangent of shape () for (2,)").
BROADCAST_BWD = {
    "grad": (lambda f: cr.grad(lambda a: cr.sum(f(a)))(3.0), 3.0),
    "jacobian rev": (lambda f: cr.jacobian(f, mode="rev")(3.0), [1.0, 2.0]),
    "jvp": (lambda f: cr.jvp(f, (3.0,), (1.0,))[1], [1.0, 2.0]),
    "jacobian fwd": (lambda f: cr.jacobian(f, mode="fwd")(3.0), [1.0, 2.0]),
    "hessian": (lambda f: cr.hessian(lambda a: cr.sum(f(a) ** 2))(3.0), 10.0),
}


@pytest.mark.parametrize("transform", list(BROADCAST_BWD))
def test_custom_vjp_gradient_in_broadcast_shape(transform):
    apply, expected = BROADCAST_BWD[transform]
    assert_close(_np(apply(lambda a: CR.mul(a, np.array([1.0, 2.0])))), expected, transform)


# cr.grad / cr.vjp results where a gradient reaches an input through a view (transpose, reshape): each result has
# memory of its own, shared neither with another result nor with the caller's cotangent.
ALIASING = {
    "grad of sum(a.T + b)": lambda: cr.grad(lambda a, b: cr.sum(a.T + b), (0, 1))(np.ones((2, 3)), np.ones((3, 2))),
    "grad of sum(reshape(a) + b)": lambda: cr.grad(lambda a, b: cr.sum(cr.reshape(a, 3) + b), (0, 1))(A[:, :1], X),
    "vjp of reshape, with its cotangent": lambda: (
        c := np.ones(3),
        *cr.vjp(lambda a: cr.reshape(a, 3), A[:, :1])[1](c),
    ),
    "jvp of an output returned twice": lambda: cr.jvp(lambda u: (lambda v: (v, v))(u * 2), (X,), (X,))[1],
    "jacobian fwd of an output returned twice": lambda: cr.jacobian(lambda u: (lambda v: (v, v))(u * 2), mode="fwd")(X),
    "jvp of reshape, with its tangent": lambda: (
        t := np.ones((3, 1)),
        cr.jvp(lambda a: cr.reshape(a, 3), (A[:, :1],), (t,))[1],
    ),
}


@pytest.mark.parametrize("case", list(ALIASING))
def test_transform_results_never_share_memory(case):
    assert not _shared(ALIASING[case]()), f"{case}: results share memory"
