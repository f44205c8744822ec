"""heap.trim gives freed heap pages back to the OS (what keeps the server's RSS near what the
pass holds live, issue 14 item 3). Measured in a fresh child: the fragmentation pattern below
(freed blocks between live ones, after glibc raised its mmap threshold) stays in RSS until
trimmed."""

import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # 400 MB are allocated below: a bound, not a bomb

    import numpy as np
    from tb_embedanalysis.analysis import heap

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    big = np.ones(16 << 20, dtype=np.uint8)  # freed: glibc raises its mmap threshold above 16 MB
    del big
    blocks = [np.ones(1 << 20, dtype=np.uint8) for _ in range(400)]  # 1 MB each, now from the heap
    del blocks[::2]  # 200 MB freed between live blocks: cannot shrink the heap's top
    before = rss_mb()
    assert heap.trim()
    print(before - rss_mb())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_trim_returns_freed_heap_pages_to_the_os():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) > 150, out.stdout  # MB given back of the 200 MB freed


REUSE_CHILD = textwrap.dedent("""
    import resource

    import numpy as np
    from tb_embedanalysis.analysis import heap

    def faults(inside):
        x = np.ones((512, 1024), dtype=np.float32)  # 2 MB: above the frozen 128 KiB threshold
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(200):  # what a graph task does: temporaries of a few MB, again and again
            (x * 2.0).astype(np.float64).sum()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

    outside = faults(False)
    with heap.reusing() as changed:
        inside = faults(True)
    after = faults(False)
    print(changed, outside, inside, after)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_reusing_serves_temporaries_from_the_heap_where_the_environment_froze_the_threshold():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536: glibc's mmap threshold
    stays at 128 KiB and every temporary above it faults its pages in afresh (heap.py)."""
    import os

    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, "-c", REUSE_CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    changed, outside, inside, after = out.stdout.split()
    assert changed == "True"
    assert int(outside) > 50_000 and int(inside) < int(outside) / 20, out.stdout  # ~1,500 pages per loop vs reuse
    assert int(after) > 50_000, out.stdout  # left as the environment asked: memory handed back again
    plain = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", REUSE_CHILD], capture_output=True, text=True, timeout=120, env=plain)
    assert out.stdout.split()[0] == "False"  # glibc's own dynamic threshold: nothing to change
