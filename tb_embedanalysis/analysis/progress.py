"""The one progress-callback type of the analysis layer.

Long computations accept ``on_progress`` and call it as ``on_progress(fraction)`` or
``on_progress(fraction, message)``: fraction in [0, 1], never decreasing; message, when
given, says what is being done ("kNN graph"). Jobs (jobs.Job.report), the CLI's progress
bar and the tab's 202 answers all take this one shape.
"""

from typing import Callable, Optional

ProgressFn = Optional[Callable[..., None]]
