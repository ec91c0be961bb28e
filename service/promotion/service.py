"""Promotion, assembled: one component per job over one record store.

* :attr:`Promotion.manual` - promote (P1-P2): :mod:`service.promotion.manual`
* :attr:`Promotion.decisions` - decisions on matches (P3-P4):
  :mod:`service.promotion.decisions` (pure decider :func:`decide_manual`)
* :attr:`Promotion.multiple` - promote to multiple Cases (P7-P9):
  :mod:`service.promotion.multiple`
* :attr:`Promotion.automated` - automated promotion (P10-P16):
  :mod:`service.promotion.auto_promotion` (pure decider :func:`decide_auto`)
* :attr:`Promotion.lifecycle` - unmark (P5), reset (P16), state changes:
  :mod:`service.promotion.lifecycle`
* :attr:`Promotion.reads` - Inbound Transmissions (M22) and audit trails (P18)

Every action takes the caller's :class:`~service.auth.Principal` and an
operation id (from the Idempotency-Key, P17) and returns a typed outcome
(:mod:`service.promotion.outcomes`) or raises a typed error (403/404/409/422);
engine failures surface as ``EngineUnavailable`` (503). Actions that create
Cases hand a :class:`~service.promotion.plans.Plan` to the
:class:`~service.promotion.plans.PlanRunner`, which gives it to the writer of
its kind (:mod:`service.promotion.writers`); the others write one
:class:`~service.promotion.ledger.StateChange` of the Inbox Item.

The app builds one :class:`Promotion` with its services at start-up
(:func:`service.app.open_services`).

    >>> promotion = Promotion(store, settings)                          # doctest: +SKIP
    >>> promotion.ensure_indices()                                      # doctest: +SKIP
    >>> promotion.manual.promote("II-1", principal, "op-1").outcome     # doctest: +SKIP
    'case_created'
"""

from __future__ import annotations

from indexer.store import RecordStore
from service.models import ModelCache, ModelStore
from service.promotion.access import Detector, ItemAccess, matcher_detector
from service.promotion.audit import AuditLog
from service.promotion.auto_promotion import AutomatedPromotion
from service.promotion.decisions import Decisions
from service.promotion.idempotency import IdempotencyStore
from service.promotion.ledger import ItemLedger
from service.promotion.lifecycle import Lifecycle
from service.promotion.manual import ManualPromotion
from service.promotion.multiple import MultiplePromotion
from service.promotion.plans import PlanRunner
from service.promotion.reads import PromotionReads
from service.promotion.transmissions import TransmissionStore
from service.promotion.writers import plan_writers
from service.settings import Settings


class Promotion:
    """The promotion components over one record store (see the module docstring)."""

    def __init__(
        self, store: RecordStore, settings: Settings, *, detector: Detector | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        #: The organizations' match models (stored, and the latest of each cached).
        self.model_store = ModelStore(store.engine, store.names)
        self.models = ModelCache(self.model_store, check_interval_s=settings.model_check_interval_s)
        self.audit = AuditLog(store.engine, store.names)
        self.transmissions = TransmissionStore(store.engine, store.names)
        self.idempotency = IdempotencyStore(store.engine, store.names)
        ledger = ItemLedger(store, self.audit)
        runner = PlanRunner(ledger, plan_writers(store, self.transmissions))
        access = ItemAccess(store, runner)
        self.manual = ManualPromotion(
            settings,
            store,
            access,
            runner,
            self.transmissions,
            detector or matcher_detector(store),
            self.models,
        )
        self.decisions = Decisions(settings, access, runner, ledger)
        self.multiple = MultiplePromotion(settings, access, runner)
        self.automated = AutomatedPromotion(
            settings, store, access, runner, self.transmissions, self.models
        )
        self.lifecycle = Lifecycle(store, access, ledger, self.audit)
        self.reads = PromotionReads(store, self.transmissions, self.audit, ledger)

    def ensure_indices(self) -> None:
        """Create the aux indices (transmissions, audit, idempotency, models) if missing."""
        self.audit.ensure_index()
        self.model_store.ensure_index()
        self.transmissions.ensure_index()
        self.idempotency.ensure_index()
