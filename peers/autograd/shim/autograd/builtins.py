"""autograd's differentiable containers: chainrule's transforms take Python's own tuples, lists and dicts."""

import builtins as _b

tuple = _b.tuple
list = _b.list
dict = _b.dict
isinstance = _b.isinstance
type = _b.type
