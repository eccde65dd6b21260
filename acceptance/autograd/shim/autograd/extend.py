"""autograd.extend: a function with derivative rules of one's own, as chainrule's custom_vjp."""

import chainrule as cr


class primitive:
    """``@primitive`` over a function, then ``defvjp(f, maker, ...)`` with ``maker(ans, *args) -> (g -> grad)``."""

    def __init__(self, fun):
        self.fun = fun
        self.makers = None
        self.__name__ = getattr(fun, "__name__", "primitive")

    def __call__(self, *args, **kwargs):
        if self.makers is None or not any(type(a) is cr.Tensor for a in args):
            return self.fun(*[a.detach() if type(a) is cr.Tensor else a for a in args], **kwargs)
        fun, makers = self.fun, self.makers

        @cr.custom_vjp
        def wrapped(*xs):
            return fun(*xs, **kwargs)

        def forward(*xs):
            ans = fun(*[x.detach() for x in xs], **kwargs)
            return ans, (ans, xs)

        def backward(residuals, g):
            ans, xs = residuals
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
