"""``service.runtime.tune_gc``: the collector settings ``casematch serve`` runs detection with."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service.runtime import YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_startup_objects_and_collects_young_ones_less_often() -> None:
    _, middle, old = gc.get_threshold()
    tune_gc()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()
