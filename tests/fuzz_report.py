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
    succeeded: int = 0  # in chains: calls answered 2xx, so the chain went on


TALLY = defaultdict(Tally)


@contextmanager
def tallied(case, caller, status=None):
    """Count one call of *caller* to the operation of *case*, and the failures it raises."""
    tally = TALLY[case.operation.label]
    tally.calls[caller] += 1
    if status is not None and 200 <= status < 300:
        tally.succeeded += 1
    try:
        yield
    except FailureGroup as group:
        tally.failures.update(failure.title for failure in group.exceptions)
        raise


CALLERS = ("admin", "staff", "anonymous", "sequences")


def summary():
    """The table of a run: calls per operation and caller, the chains' calls that
    succeeded (2xx: the chain went on from there), distinct failures."""
    columns = (*CALLERS, "chained 2xx")
    width = max([len(label) for label in TALLY] + [len("operation")])
    lines = [f"{'operation':<{width}}" + "".join(f"{c:>12}" for c in columns) + "   failures"]
    totals = Counter()
    for label, tally in sorted(TALLY.items(), key=lambda item: item[0].split()[::-1]):
        totals.update(tally.calls)
        totals["chained 2xx"] += tally.succeeded
        counts = [tally.calls[c] for c in CALLERS] + [tally.succeeded]
        row = f"{label:<{width}}" + "".join(f"{n:>12}" for n in counts)
        lines.append(row + f"   {len(tally.failures)} {'; '.join(sorted(tally.failures))}")
    lines.append(f"{'total':<{width}}" + "".join(f"{totals[c]:>12}" for c in columns))
    return lines


def succeeded(label):
    """How many calls to the operation *label* succeeded in chains."""
    return TALLY[label].succeeded if label in TALLY else 0
