"""autograd.misc.fixed_points.fixed_point on chainrule: the fixed point z = f(a)(z), found by iterating from x0,
differentiated implicitly. The adjoint w = g + (∂f/∂z)ᵀ w is itself such a fixed point (from zeros, with the same
distance and tolerance), so derivatives of every order follow the same rule."""

import chainrule as cr


def fixed_point(f, a, x0, distance, tol):
    packed = isinstance(a, tuple)

    def params_of(ps):
        return tuple(ps) if packed else ps[0]

    def solve(*ps):
        step = f(params_of(ps))
        x, x_prev = step(x0), x0
        while distance(x, x_prev) > tol:
            x, x_prev = step(x), x
        return x

    @cr.custom_vjp
    def point(*ps):
        return solve(*ps)

    def forward(*ps):
        x = solve(*[p.detach() for p in ps])
        return (x.detach() if isinstance(x, cr.Tensor) else cr.tensor(x)), ps

    def backward(ps, g):
        ans = point(*ps)  # the fixed point as a function of the parameters again (for higher derivatives)

        def adjoint_step(params):
            *qs, x_star, x_bar = params
            _, pull_x = cr.vjp(f(params_of(qs)), x_star)
            return lambda w: pull_x(w)[0] + x_bar

        w = fixed_point(adjoint_step, (*ps, ans, g), cr.zeros_like(ans), distance, tol)
        _, pull_params = cr.vjp(lambda *qs: f(params_of(qs))(ans), *ps)
        return pull_params(w)

    point.defvjp(forward, backward)
    return point(*(a if packed else (a,)))
