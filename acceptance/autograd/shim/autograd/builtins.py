"""autograd.builtins: Python's containers (chainrule's transforms take them as they are)."""

import builtins as _builtins

dict = _builtins.dict
isinstance = _builtins.isinstance
list = _builtins.list
tuple = _builtins.tuple
