"""The one progress-callback type of the analysis layer.

Long computations accept ``on_progress`` and call it as ``on_progress(fraction)`` or
``on_progress(fraction, message)``: fraction in [0, 1], never decreasing; message, when
given, says what is being done ("kNN graph"). Jobs (jobs.Job.report), the CLI's progress
bar and the tab's 202 answers all take this one shape.
"""

from typing import Callable, Optional, Protocol

ProgressFn = Optional[Callable[..., None]]


class Reporter(Protocol):
    """What reports progress in this shape: a job (jobs.Job), or one step's share of it."""

    def report(self, progress: float, message: Optional[str] = None) -> None: ...


class Share:
    """The share [start, start + width] of `parent`'s progress: report(f) reports start + width·f."""

    def __init__(self, parent: Reporter, start: float, width: float):
        self.parent, self.start, self.width = parent, start, width

    def report(self, progress: float, message: Optional[str] = None) -> None:
        self.parent.report(self.start + self.width * progress, message)
