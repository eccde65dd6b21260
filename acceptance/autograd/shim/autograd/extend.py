"""autograd.extend: a function with derivative rules of one's own, as chainrule's custom_vjp."""

import chainrule as cr


class primitive:
    """``@primitive`` over a function, then ``defvjp(f, maker, ...)`` with ``maker(ans, *args) -> (g -> grad)``."""

    def __init__(self, fun):
        self.fun = fun
        self.makers = None
        self.__name__ = getattr(fun, "__name__", "primitive")

    def __call__(self, *args, **kwargs):
        traced = [a for a in args if type(a) is cr.Tensor and (a.requires_grad or a._tangents)]
        if traced and self.makers is None:
            raise NotImplementedError(f"{self.__name__}: no derivative rule was defined (defvjp)")
        if self.makers is None or not traced:
            return self.fun(*[a.detach() if type(a) is cr.Tensor else a for a in args], **kwargs)
        fun, makers = self.fun, self.makers

        @cr.custom_vjp
        def wrapped(*xs):
            return fun(*xs, **kwargs)

        def forward(*xs):
            ans = fun(*[x.detach() for x in xs], **kwargs)
            return ans, xs

        def backward(xs, g):
            ans = self(*xs, **kwargs)  # the output again, as a function of the inputs (for higher derivatives)
            return tuple(
                (maker(ans, *xs, **kwargs)(g) if maker is not None else None)
                for maker in (makers + (None,) * (len(xs) - len(makers)))
            )

        wrapped.defvjp(forward, backward)
        return wrapped(*args)


def defvjp(fun, *makers, argnums=None):
    fun.makers = tuple(makers)


def notrace_primitive(fun):
    return fun


def _old_api(self, maker, argnum=0):
    makers = list(self.makers or ())
    makers += [None] * (argnum + 1 - len(makers))
    makers[argnum] = maker
    self.makers = tuple(makers)


# autograd's older, deprecated ways of giving the rules, one argument at a time
primitive.defgrad = lambda self, gradmaker, argnum=0: _old_api(self, gradmaker, argnum)
primitive.defvjp = lambda self, vjp, argnum=0: _old_api(
    self, lambda ans, *args, **kw: lambda g: vjp(g, ans, None, None, *args, **kw), argnum
)
primitive.defvjp_is_zero = lambda self, argnums=(0,): [
    _old_api(self, lambda ans, *args, **kw: lambda g: g * 0.0, n) for n in argnums
]
