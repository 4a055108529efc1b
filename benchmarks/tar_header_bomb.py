"""Peak memory of inspecting an upload whose tar headers are memory bombs.

Builds a gzip tar with one GNU long-name (``L``), long-link (``K``) or pax (``x``)
header of ``--mib`` MiB (0.4 MB compressed for 400 MiB), then, each in a fresh Python
process, reads it with plain ``tarfile`` (what ``inspect_archive`` did before its headers
were bounded) and with ``grader_service.tarsafe.inspect_archive``. Prints the upload
size, the outcome, the tracemalloc peak and the process's peak RSS growth.

    python benchmarks/tar_header_bomb.py            # 400 MiB headers
    python benchmarks/tar_header_bomb.py --mib 100
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import io, json, resource, sys, tarfile, tracemalloc
sys.path[:0] = [sys.argv[3]]
from grader_service.tarsafe import inspect_archive
data = open(sys.argv[2], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
try:
    if sys.argv[1] == "plain":
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            outcome = f"accepted {[m.name[:20] for m in tar]}"
    else:
        outcome = f"accepted {inspect_archive(data, 10**8)}"
except Exception as err:
    outcome = f"{type(err).__name__}: {str(err)[:90]}"
peak = tracemalloc.get_traced_memory()[1]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "traced_peak": peak, "rss_growth_kib": after - before}))
"""


def measure(mode, path):
    reply = subprocess.run([sys.executable, "-c", CHILD, mode, path,
                            os.path.join(REPO, "grader_service")],
                           capture_output=True, text=True, check=True)
    return json.loads(reply.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=400, help="header size in MiB")
    args = parser.parse_args()
    sys.path[:0] = [os.path.join(REPO, "tests", "grader_service")]
    from tar_bombs import header_bomb

    print(f"{'bomb':<14}{'upload':>10}  {'reader':<10}{'traced peak':>13}"
          f"{'RSS growth':>12}  outcome")
    for kind in ("gnu-longname", "gnu-longlink", "pax"):
        data = header_bomb(kind, args.mib * 2**20)
        with tempfile.NamedTemporaryFile(suffix=".tar.gz") as upload:
            upload.write(data)
            upload.flush()
            for mode in ("plain", "tarsafe"):
                m = measure(mode, upload.name)
                print(f"{kind:<14}{len(data) / 1e6:>8.2f}MB  {mode:<10}"
                      f"{m['traced_peak'] / 2**20:>10.1f}MiB{m['rss_growth_kib'] / 1024:>9.1f}MiB"
                      f"  {m['outcome']}")


if __name__ == "__main__":
    main()
