"""autograd.wrap_util: operators of one argument made into operators of any argument (``argnum``)."""

import functools


def unary_to_nary(unary_operator):
    """``op(fun, argnum=0)(*args, **kwargs)`` applies ``unary_operator`` to ``fun`` seen as a function of
    ``args[argnum]`` (a tuple of arguments for a tuple ``argnum``)."""

    @functools.wraps(unary_operator)
    def nary_operator(fun, argnum=0, *op_args, **op_kwargs):
        def nary_f(*args, **kwargs):
            def unary_f(x):
                subargs = builtins_list(args)
                if isinstance(argnum, int):
                    subargs[argnum] = x
                else:
                    for i, value in zip(argnum, x):
                        subargs[i] = value
                return fun(*subargs, **kwargs)

            x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
            return unary_operator(unary_f, x, *op_args, **op_kwargs)

        nary_f.__name__ = f"{unary_operator.__name__}_of_{getattr(fun, '__name__', 'function')}"
        return nary_f

    return nary_operator


builtins_list = list
