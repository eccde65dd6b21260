"""The answer for a name of autograd's that chainrule has no counterpart for."""


class MissingInChainrule(AttributeError):
    pass


def missing(module_name, fallback=None):
    """A module ``__getattr__``: look the name up in ``fallback`` (a chainrule object) if given, else refuse."""

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        if fallback is not None:
            try:
                return getattr(fallback(), name)
            except AttributeError:
                pass
        raise MissingInChainrule(f"{module_name}.{name}: chainrule has no counterpart (not mapped by the shim)")

    return __getattr__
