"""The whole-database duplicate audit, in bulk: encode, block, compare, score, cluster (pure).

A package of one module per step (``encoding``, ``blocking``, ``levels``, ``linking``,
``run``; ``common`` holds what they share; ``dob`` and ``names`` give the date-of-birth and
name levels of many pairs in numpy, the comparators' rules restated for arrays and tested
equal to them); this module re-exports their public names.

``casematch audit`` (``service/audit.py``) reads an organization's Cases from the store and
runs them through here; the peer benchmark runs FEBRL rows through the same functions in
memory. Nothing here does I/O; every step works on numpy arrays of the records' codes, so
a million records cost arrays, not a million Python objects.

1. :class:`Encoder` turns each record (its :class:`~matcher.facts.Facts` and its stored
   retrieval keys, ``indexer.documents.retrieval_keys``) into integers: one code per model
   field (``matcher.linkage.MODEL_FIELDS``) for the values that field's comparator reads,
   and one hash per blocking key.
2. :func:`candidate_pairs` blocks **on the retrieval keys** of the kinds in
   :data:`BLOCK_KINDS` (identifiers, patient names, initials, date of birth, MRNs, EDC
   subject, study subject): two records are a candidate pair when they share such a key,
   which is how retrieval finds a candidate's Patient-tier and ID matches. Keys carry
   their scope (``{organization}|{ct|pm}|``), so a block never mixes organizations (M1)
   or clinical-trial with postmarketing records (M3). A less precise date of birth
   (``patient_dob_within``) joins the records whose date of birth is exactly that value,
   as retrieval looks it up, not each other; likewise patient initials, which are derived
   from the names, join only records of which at least one lacks a first or last name
   (two named records are blocked by their names). A block of more than ``max_block`` records
   (common initials, a popular name) is not paired whole: it is split by birth year (its
   members without a date of birth leave it), and a part still larger is dropped and
   counted (:class:`BlockStats`). Pairs are made per block size with numpy and deduplicated.
3. :class:`BulkLevels` gives each pair the level vector :func:`matcher.linkage.pair_levels`
   gives (a test proves them equal): exact single-valued fields compare their codes in
   numpy, and so do dates of birth and names (``dob``, ``names``); the other fields
   (MRNs with their ``close`` level, products, events) compare each distinct pair of codes
   once, through ``linkage.field_level`` on a record holding just those values, and cache
   the result.
4. :func:`exclusions` drops the pairs the seeds exclude: M1, M3, M7 (not searchable) and
   M5 (another reporter country and no patient field matches: ``matcher.rank.country_excluded``).
   :func:`compare_records` runs steps 1-4.
5. :func:`train` fits the :class:`~matcher.linkage.MatchModel` on those pairs: the one
   training recipe, which ``casematch model train`` runs too (``matcher.training``).
   :class:`Weights` then gives each pair its match weight and probability, as
   ``MatchModel.probability`` does.
6. :func:`cluster` links pairs at or above the threshold (and pairs sharing an identifier,
   M10) and merges two clusters only when **more than half** of the possible pairs between
   them are links: a chain A-B-C of links without A-C never merges A and C.
"""

from __future__ import annotations

from matcher.audit.blocking import (
    BlockStats as BlockStats,
)
from matcher.audit.blocking import (
    candidate_pairs as candidate_pairs,
)
from matcher.audit.blocking import (
    identifier_links as identifier_links,
)
from matcher.audit.blocking import (
    random_pairs as random_pairs,
)
from matcher.audit.common import (
    BLOCK_KINDS as BLOCK_KINDS,
)
from matcher.audit.common import (
    CACHE_LIMIT as CACHE_LIMIT,
)
from matcher.audit.common import (
    DEFAULT_THRESHOLD as DEFAULT_THRESHOLD,
)
from matcher.audit.common import (
    MAX_BLOCK as MAX_BLOCK,
)
from matcher.audit.common import (
    FloatArray as FloatArray,
)
from matcher.audit.common import (
    IntArray as IntArray,
)
from matcher.audit.common import (
    LevelArray as LevelArray,
)
from matcher.audit.encoding import (
    Encoded as Encoded,
)
from matcher.audit.encoding import (
    Encoder as Encoder,
)
from matcher.audit.encoding import (
    concat as concat,
)
from matcher.audit.levels import (
    BulkLevels as BulkLevels,
)
from matcher.audit.levels import (
    independent as independent,
)
from matcher.audit.levels import (
    level_counts as level_counts,
)
from matcher.audit.linking import (
    EXCLUSION_RULES as EXCLUSION_RULES,
)
from matcher.audit.linking import (
    Clusters as Clusters,
)
from matcher.audit.linking import (
    Weights as Weights,
)
from matcher.audit.linking import (
    cluster as cluster,
)
from matcher.audit.linking import (
    clustered_pairs as clustered_pairs,
)
from matcher.audit.linking import (
    exclusions as exclusions,
)
from matcher.audit.linking import (
    probabilities as probabilities,
)
from matcher.audit.run import (
    MIN_PASS_PAIRS as MIN_PASS_PAIRS,
)
from matcher.audit.run import (
    RANDOM_PAIRS as RANDOM_PAIRS,
)
from matcher.audit.run import (
    TRAINING_PASSES as TRAINING_PASSES,
)
from matcher.audit.run import (
    AuditRun as AuditRun,
)
from matcher.audit.run import (
    Compared as Compared,
)
from matcher.audit.run import (
    audit_in_memory as audit_in_memory,
)
from matcher.audit.run import (
    compare_records as compare_records,
)
from matcher.audit.run import (
    train as train,
)
from matcher.audit.run import (
    train_compared as train_compared,
)
