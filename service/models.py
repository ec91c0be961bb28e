"""Match models per organization: stored versions, the cached latest, and training.

A fitted :class:`matcher.linkage.MatchModel` is stored as its JSON (schema
``casematch.linkage/1``) in the aux index ``{prefix}-models`` (``mappings/models.json``),
one document per organization and version, the JSON not indexed. The latest
``keep`` versions of an organization are kept. :class:`ModelCache` gives detection and
automated promotion the latest model of an organization, re-reading the store at
most every ``check_interval_s`` seconds and loading a version only when it is newer.

    >>> models = ModelStore(engine, IndexNames("casematch"))   # doctest: +SKIP
    >>> train_organization(store, models, "ORG-A").version      # doctest: +SKIP
    1
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from indexer.documents import load_mapping
from indexer.engine import Engine
from indexer.scan import training_views
from indexer.store import IndexNames, RecordStore
from matcher.linkage import MatchModel
from matcher.training import (
    DEFAULT_MAX_RECORDS,
    TrainingRecord,
    train,
    training_record_from_view,
)

#: Versions of an organization's model kept in the store (older ones are deleted).
DEFAULT_KEEP = 5


class ModelStore:
    """Stored match models: one document per organization and version."""

    def __init__(self, engine: Engine, names: IndexNames, *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep at least one model version")
        self.engine = engine
        self.index = names.aux("models")
        self.keep = keep
        self._ensured = False

    def ensure_index(self) -> None:
        """Create the index if missing (reads and writes do it once themselves)."""
        self.engine.ensure_index(self.index, load_mapping("models"))
        self._ensured = True

    def _ready(self) -> None:
        if not self._ensured:
            self.ensure_index()

    @staticmethod
    def doc_id(organization: str, version: int) -> str:
        return f"{organization}~v{version}"

    def versions(self, organization: str) -> list[int]:
        """The stored versions of ``organization``'s model, oldest first."""
        self._ready()
        res = self.engine.search(
            self.index,
            {
                "query": {"bool": {"filter": [{"term": {"organization": organization}}]}},
                "sort": [{"version": "asc"}],
                "size": 1000,
                "_source": ["version"],
            },
        )
        return [int(h["_source"]["version"]) for h in res["hits"]["hits"]]

    def latest_version(self, organization: str) -> int | None:
        self._ready()
        res = self.engine.search(
            self.index,
            {
                "query": {"bool": {"filter": [{"term": {"organization": organization}}]}},
                "sort": [{"version": "desc"}],
                "size": 1,
                "_source": ["version"],
            },
        )
        hits = res["hits"]["hits"]
        return int(hits[0]["_source"]["version"]) if hits else None

    def get_json(self, organization: str, version: int | None = None) -> dict[str, Any] | None:
        """A stored model's JSON (the latest version by default), or ``None``."""
        self._ready()
        if version is None:
            version = self.latest_version(organization)
            if version is None:
                return None
        doc = self.engine.get(self.index, self.doc_id(organization, version))
        if doc is None:
            return None
        data: dict[str, Any] = doc["_source"]["model"]
        return data

    def get(self, organization: str, version: int | None = None) -> MatchModel | None:
        data = self.get_json(organization, version)
        return None if data is None else MatchModel.from_json(data)

    def next_version(self, organization: str) -> int:
        return (self.latest_version(organization) or 0) + 1

    def put(self, model: MatchModel) -> None:
        """Store a model version (searchable on return), then drop all but the latest ``keep``."""
        self._ready()
        self.engine.index(
            self.index,
            self.doc_id(model.organization, model.version),
            {
                "organization": model.organization,
                "version": model.version,
                "trained_at": model.trained_at,
                "model": model.to_json(),
            },
            refresh="wait_for",
        )
        versions = self.versions(model.organization)
        for old in versions[: max(len(versions) - self.keep, 0)]:
            self.engine.delete(self.index, self.doc_id(model.organization, old))


class ModelCache:
    """The latest model of each organization, re-checked at most every ``check_interval_s``."""

    def __init__(
        self,
        models: ModelStore,
        *,
        check_interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.models = models
        self.check_interval_s = check_interval_s
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, MatchModel | None]] = {}

    def latest(self, organization: str) -> MatchModel | None:
        """The organization's latest stored model (``None`` when none is trained)."""
        now = self.clock()
        with self._lock:
            found = self._cached.get(organization)
        if found is not None and now - found[0] < self.check_interval_s:
            return found[1]
        current = found[1] if found is not None else None
        version = self.models.latest_version(organization)
        if version is None:
            model = None
        elif current is not None and current.version == version:
            model = current
        else:
            model = self.models.get(organization, version)
        with self._lock:
            self._cached[organization] = (now, model)
        return model

    def forget(self, organization: str) -> None:
        """Re-read the organization's model on the next :meth:`latest` (after training)."""
        with self._lock:
            self._cached.pop(organization, None)


def training_records(store: RecordStore, organization: str) -> list[TrainingRecord]:
    """The organization's searchable records as training reads them."""
    return [
        training_record_from_view(view, keys) for view, keys in training_views(store, organization)
    ]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def train_organization(
    store: RecordStore,
    models: ModelStore,
    organization: str,
    *,
    max_records: int = DEFAULT_MAX_RECORDS,
    seed: int = 0,
    records: list[TrainingRecord] | None = None,
) -> MatchModel:
    """Train the organization's next model version on its stored records and store it.

    Raises ``ValueError`` (with a message for the user) when the organization has too
    few records to train on.
    """
    found = training_records(store, organization) if records is None else records
    model = train(
        found,
        organization=organization,
        version=models.next_version(organization),
        trained_at=now_iso(),
        max_records=max_records,
        seed=seed,
    )
    models.put(model)
    return model
