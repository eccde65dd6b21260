"""autograd.util."""

from .test_util import check_grads


def quick_grad_check(fun, arg0, extra_args=(), kwargs={}, verbose=True):  # noqa: B006
    check_grads(lambda x: fun(x, *extra_args, **kwargs), modes=["rev"], order=1)(arg0)
