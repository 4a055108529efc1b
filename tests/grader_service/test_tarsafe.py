"""Packing a folder for upload: the same files give the same bytes (and blob)."""

import gzip
import io
import os
import tarfile

from grader_testing import FIXTURES

from grader_service.tarsafe import pack_directory

RELEASE = os.path.join(FIXTURES, "ps0", "release")


def test_packing_is_reproducible_whenever_it_runs(monkeypatch):
    first = pack_directory(RELEASE)
    monkeypatch.setattr(gzip.time, "time", lambda: 4_000_000_000.0)  # another second
    assert pack_directory(RELEASE) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert tar.getnames() == ["data.txt", "ps0.ipynb"]
    plain = pack_directory(RELEASE, compress=False)
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert tar.getnames() == ["data.txt", "ps0.ipynb"]
