"""What a fuzz run did: calls per operation and caller, distinct failures, and the table.

conftest.py prints ``summary()`` at the end of any run that fuzzed.
"""

from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from schemathesis.errors import FailureGroup


@dataclass
class Tally:
    """What the fuzzer did to one operation: calls by who made them, distinct failures."""

    calls: Counter = field(default_factory=Counter)
    failures: set = field(default_factory=set)


TALLY = defaultdict(Tally)


@contextmanager
def tallied(case, caller):
    """Count one call of *caller* to the operation of *case*, and the failures it raises."""
    tally = TALLY[case.operation.label]
    tally.calls[caller] += 1
    try:
        yield
    except FailureGroup as group:
        tally.failures.update(failure.title for failure in group.exceptions)
        raise


CALLERS = ("admin", "user", "anonymous", "sequences")


def summary():
    """The table of a run: calls per operation and caller, distinct failures."""
    width = max([len(label) for label in TALLY] + [len("operation")])
    lines = [f"{'operation':<{width}}" + "".join(f"{c:>11}" for c in CALLERS) + "   failures"]
    totals = Counter()
    for label, tally in sorted(TALLY.items(), key=lambda item: item[0].split()[::-1]):
        totals.update(tally.calls)
        row = f"{label:<{width}}" + "".join(f"{tally.calls[c]:>11}" for c in CALLERS)
        lines.append(row + f"   {len(tally.failures)} {'; '.join(sorted(tally.failures))}")
    lines.append(f"{'total':<{width}}" + "".join(f"{totals[c]:>11}" for c in CALLERS))
    return lines
