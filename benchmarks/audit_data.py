"""Generated Cases of one organization with planted duplicate clusters, for the audit benchmarks.

A population of ``n`` Cases: ``n - planted`` base Cases (``service.sample``'s population,
one organization) and ``planted`` extra Cases, each built from a random base Case by a
duplicate family of ``service.sample.queries`` (an exact copy, a follow-up, a name-order
swap, a transliteration, a typo, a partial date of birth, ... without a shared identifier
in most families) and stored as a Case of its own (id ``CD-<q>``), or, one in
``len(families)``, a near miss (``different_patient_same_product_event``: another patient
with the same product and event). The truth is known: a planted duplicate belongs to its
base Case's entity (:meth:`PlantedPopulation.entity`), everything else is its own entity.
Every record is a pure function of ``(seed, index)``, so a million of them stream in
constant memory and any slice can be regenerated.

    python -m benchmarks.audit_data --seed 42 --size 1000000 --data-dir DIR   # build a kept store
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from indexer.records import Record
from service.sample import DUPLICATE_FAMILIES, Population, generate_queries

#: The families planted: every duplicate family and one near miss of another patient.
PLANTED_FAMILIES: tuple[str, ...] = (*DUPLICATE_FAMILIES, "different_patient_same_product_event")
NEAR_MISS = "different_patient_same_product_event"
#: The organization of every generated Case.
ORGANIZATION = "ORG-A"
#: A fixed "today", so a kept store and a later run regenerate the same records.
TODAY = date(2026, 12, 1)


@dataclass(frozen=True, slots=True)
class PlantedPopulation:
    """``n`` Cases of :data:`ORGANIZATION`, ``planted`` of them duplicates or near misses."""

    seed: int
    n: int
    planted_fraction: float = 0.1
    today: date = TODAY

    @property
    def planted(self) -> int:
        return int(self.n * self.planted_fraction)

    @property
    def base(self) -> Population:
        return Population(
            seed=self.seed, n=self.n - self.planted, organizations=(ORGANIZATION,), today=self.today
        )

    def store_key(self) -> str:
        """The index prefix of a kept store of this population."""
        return f"audit-{self.seed}-{self.n}-{int(self.planted_fraction * 1000)}"

    def planted_records(
        self, start: int = 0, count: int | None = None
    ) -> Iterator[tuple[Record, str, bool]]:
        """Planted Cases ``start ..``: (record, base Case id, is a true duplicate)."""
        count = self.planted - start if count is None else count
        for query in generate_queries(
            self.seed + 1,
            self.base,
            count,
            families=PLANTED_FAMILIES,
            start_index=start,
            id_prefix="CD",
            today=self.today,
        ):
            data = query.source.model_dump(mode="json", exclude_none=True)
            data.update(kind="case", state="in_progress", version=1)
            data.pop("case_id", None)
            yield Record.model_validate(data), query.base_id, query.family != NEAR_MISS

    def records(self) -> Iterator[Record]:
        """Every Case: the base population, then the planted ones."""
        yield from self.base
        for record, _, _ in self.planted_records():
            yield record

    def entities(self) -> dict[str, str]:
        """Planted record id -> the entity (base Case id) it duplicates; absent: its own."""
        return {record.id: base for record, base, duplicate in self.planted_records() if duplicate}


def entity_of(record_id: str, planted: dict[str, str]) -> str:
    return planted.get(record_id, record_id)


def build_store(population: PlantedPopulation, data_dir: Path, chunk: int = 50_000) -> None:
    """Index ``population`` into a kept store under ``data_dir`` (resumes a partial one)."""
    import os

    from benchmarks.harness import KEEP_ENV, bench_store, indexed_cases, load

    os.environ[KEEP_ENV] = str(data_dir)
    with bench_store("audit", reuse=population.store_key()) as (_, store):
        done = indexed_cases(store)
        base_n = population.base.n
        while done < population.n:
            started = time.perf_counter()
            step = min(chunk, population.n - done)
            if done < base_n:
                step = min(step, base_n - done)
                part: Sequence[Record] | Iterator[Record] = iter(
                    Population(
                        seed=population.seed,
                        n=step,
                        organizations=(ORGANIZATION,),
                        today=population.today,
                        start_index=done,
                    )
                )
            else:
                part = (r for r, _, _ in population.planted_records(done - base_n, step))
            load(store, part, total=step, label=f"index {done + step:,}")
            done += step
            print(
                f"{done:,} of {population.n:,} indexed ({step / (time.perf_counter() - started):,.0f}/s)",
                flush=True,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit_data", description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--planted", type=float, default=0.1, help="fraction of planted Cases")
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    build_store(PlantedPopulation(args.seed, args.size, args.planted), args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
