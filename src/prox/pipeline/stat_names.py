"""The names of the stats the steps count (`stages.py`) and the run's account adds up (`summary.py`).

A stat counted under one name and summed under another would silently total zero, so both use these.
"""

from __future__ import annotations

DOCUMENTS_IN = "documents_in"  # every input record, bad ones included
DOCUMENTS_OUT = "documents_out"  # documents that reach OUT
ERRORS = "errors"  # documents set aside in OUT/errors
KEPT = "kept"  # documents a stage passed on
CHARS_IN = "chars_in"
CHARS_OUT = "chars_out"
WORDS_IN = "words_in"  # whitespace-separated
WORDS_OUT = "words_out"
LINES_REMOVED = "lines_removed"
NORMALIZATIONS = "normalizations"
PROGRAM_ERRORS = "program_errors"
GENERATION_FAILURES = "generation_failures"  # documents the refiner gave no program for (retryable)
PROGRAMS_CUT = "programs_cut"  # program texts cut to the stored maximum
# Counted per reason: `dropped_{reason}` for each drop, `kept_{decision}` for each chunk-stage keep.
DROPPED_PREFIX = "dropped_"
KEPT_PREFIX = "kept_"

# The stats the account sums as they are.
TOTALS = (
    DOCUMENTS_IN,
    DOCUMENTS_OUT,
    ERRORS,
    CHARS_IN,
    CHARS_OUT,
    WORDS_IN,
    WORDS_OUT,
    LINES_REMOVED,
    NORMALIZATIONS,
    PROGRAM_ERRORS,
    GENERATION_FAILURES,
    PROGRAMS_CUT,
)
