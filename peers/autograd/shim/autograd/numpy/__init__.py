"""autograd.numpy is NumPy itself here: chainrule's tensors answer NumPy's functions and ufuncs
(__array_function__ / __array_ufunc__), so nothing is wrapped. The submodules are NumPy's own modules too."""

import sys

import numpy

for _sub in ("random", "linalg", "fft"):
    sys.modules[f"{__name__}.{_sub}"] = getattr(numpy, _sub)
sys.modules[__name__] = numpy
