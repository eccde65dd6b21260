"""The worked example chainrule starts from: z = sin(x*y) + cos(x*y) at x = 2, y = 3.

Prints the forward values of every intermediate, then the gradients one backward pass gives, next to the
formulas y(cos xy - sin xy) and x(cos xy - sin xy).
"""

import math

import chainrule as cr


def main() -> None:
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    r = (x * y).retain_grad()  # r feeds two operations: its gradient is the sum of both contributions
    u = cr.cos(r).retain_grad()
    v = cr.sin(r).retain_grad()
    z = u + v
    z.backward()

    print("forward")
    for name, node, definition in [("r", r, "x * y"), ("u", u, "cos(r)"), ("v", v, "sin(r)"), ("z", z, "u + v")]:
        print(f"  {name} = {definition:<7} = {node.item(): .5f}")
    print("backward")
    print(f"  dz/du = {u.grad.item():.5f}   dz/dv = {v.grad.item():.5f}")
    print(f"  dz/dr = -sin(r) + cos(r) = {r.grad.item():.5f}")
    formula = math.cos(6.0) - math.sin(6.0)
    print(f"  dz/dx = {x.grad.item():.5f}   (y (cos xy - sin xy) = {3 * formula:.5f})")
    print(f"  dz/dy = {y.grad.item():.5f}   (x (cos xy - sin xy) = {2 * formula:.5f})")


if __name__ == "__main__":
    main()
