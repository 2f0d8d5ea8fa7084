"""Loading many objects that all stay alive, without the cyclic collector.

Reading 100,000 rules makes millions of small objects (rules, parsed
queries, the index's specs) and frees almost none.  Each collection the
allocations trigger walks every live object again, and in a worker, which
holds far more objects than a script, that made building the index take
twice as long.  Reference counting still frees what is dropped meanwhile;
only cycles wait until the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (left as it was found if already paused).

    At the end, what the process holds is moved out of the collector's sight
    (`gc.freeze`): the first collection after the pause would otherwise walk
    all of it once more (seconds at 100,000 rules) to find it all alive.
    What is frozen is still freed when nothing refers to it; only a cycle
    among it would be kept, and a loaded rule set does not make those.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
