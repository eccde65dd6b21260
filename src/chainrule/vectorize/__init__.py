"""Vectorizing map: ``cr.vmap`` runs a function written for one example on a whole batch at once.

A batched value is a ``Batched``: the data of every example stacked along a leading axis that the function never
sees (its shape is one example's shape). Each primitive applied to one says, in its batching rule, how to do the
same for all examples with one array operation (``rules.py``); the graph, the derivative rules and the transforms
run unchanged on top, so ``vmap`` composes with ``grad``, ``jvp``, ``jacobian`` and itself.
"""
