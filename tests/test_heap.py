"""Objects alive when the server has loaded its long-lived state stay out of collections."""

from __future__ import annotations

import gc

from ui.heap import freeze_long_lived


def test_long_lived_objects_are_left_out_of_collections():
    gc.unfreeze()
    try:
        kept = [[index] for index in range(50_000)]  # container objects the collector tracks
        before = gc.get_freeze_count()
        freeze_long_lived()
        assert gc.get_freeze_count() >= before + len(kept)
        assert all(gc.is_tracked(item) for item in kept[:10])
    finally:
        gc.unfreeze()
