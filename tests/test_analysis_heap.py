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
