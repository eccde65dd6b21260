"""autograd.test_util's two checkers, as calls of chainrule.gradcheck.

``check_grads(fun, argnum=0, modes=..., order=2)(*args, **kwargs)`` checks ``fun`` in ``args[argnum]`` (a list or
tuple of positions: jointly in all of them), the other arguments and the keywords held fixed.
``combo_check(fun, argnum, modes, order)(*arg_lists, **kwarg_lists)`` does so for every combination.

Adaptations, none of them mathematics: chainrule.gradcheck always checks both reverse and forward mode (it has no
``modes``), so ``modes`` is accepted and not used; its ``order`` is at most 2; and it refuses complex inputs, so a
complex argument is checked as the function of its real and imaginary parts.
"""

import itertools

import numpy as np

import chainrule as cr


def _positions(argnum):
    return [argnum] if isinstance(argnum, (int, np.integer)) else list(argnum)


def check_grads(fun, argnum=0, modes=("fwd", "rev"), order=2):
    if any(m not in ("fwd", "rev") for m in modes):
        raise ValueError(f"modes must be 'fwd' and/or 'rev', got {modes!r}")

    def check(*args, **kwargs):
        positions = _positions(argnum)
        nested = [isinstance(args[i], (tuple, list, dict)) for i in positions]  # gradcheck takes these whole
        complex_at = [not n and np.iscomplexobj(args[i]) for i, n in zip(positions, nested)]
        inputs = []
        for i, is_nested, is_complex in zip(positions, nested, complex_at):
            if is_nested:
                inputs.append(args[i])
            elif is_complex:
                value = np.asarray(args[i], dtype=np.complex128)
                inputs += [value.real.copy(), value.imag.copy()]
            else:
                inputs.append(np.asarray(args[i], dtype=np.float64))

        def of_inputs(*xs):
            call, k = list(args), 0
            for i, is_complex in zip(positions, complex_at):
                if is_complex:
                    call[i] = xs[k] + xs[k + 1] * 1j
                    k += 2
                else:
                    call[i] = xs[k]
                    k += 1
            return fun(*call, **kwargs)

        return cr.gradcheck(of_inputs, *inputs, order=min(order, 2))

    return check


def combo_check(fun, *check_args, **check_kwargs):
    def check_all(*arg_lists, **kwarg_lists):
        keyed = [[(key, value) for value in values] for key, values in kwarg_lists.items()]
        for args in itertools.product(*arg_lists):
            for pairs in itertools.product(*keyed):
                check_grads(fun, *check_args, **check_kwargs)(*args, **dict(pairs))

    return check_all
