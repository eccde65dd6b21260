"""The engine: records operations as a graph and walks that graph backwards.

It knows nothing about any particular operation. Each computed tensor is a node of the graph: it remembers the
primitive that made it and that primitive's inputs (which the derivative rules may read), as micrograd's values
do; leaves are the tensors the user made. The backward pass visits nodes in reverse topological order with an
explicit work list (no recursion, so depth is bounded by memory only), adds up the gradients of a value used
several times, undoes broadcasting in one place, skips inputs that need no gradient, and frees each node's saved
inputs as soon as it has been used. Nodes point only backwards, to their inputs, so a graph holds no reference
cycles and is freed by reference counting alone.

The engine is split by concern, one file each: ``grad_mode`` (whether to record), ``versions`` (the order of
operations and in-place changes), ``forward`` (levels and tangents), ``anomaly`` (NaN hunting), ``recording``
(nodes made as operations run), ``backward`` (the walk back) and ``hooks`` (functions called on gradients during
the walk, and when it ends).
"""

from .anomaly import _anomaly, _anomaly_open, detect_anomaly
from .backward import (
    _accumulate,
    _last_selection,
    backward,
    fit_gradient,
    gradients,
    note_selection,
    reaches_outside,
    target_key,
)
from .forward import (
    _forward,
    _forward_open,
    batched_level_open,
    close_level,
    open_level,
    push_tangents,
    set_tangent,
    tangent_of,
)
from .grad_mode import _mode, enable_grad, is_grad_enabled, no_grad
from .hooks import RemovableHandle, queue_callback
from .recording import record, recorder
from .versions import (
    _last_change,
    _ticks,
    mark_changed,
    separate_memory,
    share_memory,
    shares_memory,
    supersede,
    version_box,
)
