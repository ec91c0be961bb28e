"""What the audit's steps share: array types, blocking kinds, limits, level maps."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from indexer.fields import RANKED_FIELDS, KeyKind
from matcher import linkage
from matcher.compare import EXACT as R_EXACT
from matcher.compare import NONE as R_NONE
from matcher.compare import PARTIAL as R_PARTIAL
from matcher.model import Result

IntArray = npt.NDArray[np.int64]
LevelArray = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]

K = KeyKind
#: The retrieval key kinds the audit blocks on: those that find a record's ID, Subject and
#: Patient-tier matches. Reporter, product and event keys are left out: every record of a
#: product shares them, so they would pair most of the database.
BLOCK_KINDS: frozenset[str] = frozenset(
    str(k)
    for k in (
        K.IDENTIFIER,
        K.PATIENT_INITIALS,
        K.PATIENT_FIRST_NAME,
        K.PATIENT_LAST_NAME,
        K.PATIENT_NAME_TOKEN,
        K.PATIENT_DOB,
        K.PATIENT_DOB_WITHIN,
        K.MRN_GP,
        K.MRN_SPECIALIST,
        K.MRN_HOSPITAL,
        K.MRN_INVESTIGATION,
        K.EDC_SUBJECT,
        K.STUDY_MRN_INVESTIGATION,
        K.STUDY_INITIALS,
    )
)
#: Records per block beyond which a block is split by birth year (see the module doc).
MAX_BLOCK = 200
#: Compared value pairs kept per field between calls of :meth:`BulkLevels.levels`.
CACHE_LIMIT = 1_000_000
#: The default link threshold on the match probability.
DEFAULT_THRESHOLD = 0.9

_RANKED_KEYS = tuple(f.key for f in RANKED_FIELDS)
_LEVEL_OF: dict[Result, int] = {
    R_EXACT: linkage.EXACT,
    R_PARTIAL: linkage.PARTIAL,
    R_NONE: linkage.NONE,
}
_RESULT_OF: dict[int, Result] = {
    linkage.EXACT: R_EXACT,
    linkage.PARTIAL: R_PARTIAL,
    linkage.CLOSE: R_NONE,
    linkage.NONE: R_NONE,
    linkage.NULL: R_NONE,
}


def unique_sorted(values: IntArray) -> IntArray:
    """``np.unique(values)`` (the distinct values, sorted) by a sort and a neighbour test.

    numpy 2.3+ answers ``np.unique`` of integers through a hash table, which costs about
    a second per million distinct values; a sort costs a hundredth of that.
    """
    out = np.sort(values)
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]
