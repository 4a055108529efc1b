"""Packing a folder for upload: the same files give the same bytes (and blob)."""

import gzip
import io
import os
import tarfile
import tempfile

import pytest
from grader_testing import FIXTURES
from tar_bombs import header_bomb

from grader_service.tarsafe import (
    ExtendedHeaderTooLarge,
    UnsafeArchive,
    extract,
    inspect_archive,
    pack_directory,
)

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


# -- header memory bombs (figures: benchmarks/tar_header_bomb.py) ----------------------


@pytest.mark.parametrize("kind", ["gnu-longname", "gnu-longlink", "pax"])
def test_an_oversized_extended_header_is_refused_before_it_is_read(kind):
    bomb = header_bomb(kind, 8 * 2**20)
    with pytest.raises(ExtendedHeaderTooLarge, match=r"header of 8388608 bytes; at most 65536"):
        inspect_archive(bomb, 10**8)
    with pytest.raises(ExtendedHeaderTooLarge):  # a stream (the sandbox, the exchange)
        extract(io.BytesIO(bomb), tempfile.mkdtemp(), 10**8)


@pytest.mark.parametrize("kind", ["gnu-longlink", "pax"])
def test_extended_headers_of_a_real_size_still_pass(kind):
    assert len(inspect_archive(header_bomb(kind, 3000), 10**8)) == 1


def test_many_extended_headers_add_up_to_a_refusal():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number in range(40):  # 40 x ~40 KiB of pax path records > 1 MiB
            info = tarfile.TarInfo(f"{number:02d}" + "d/" * 20_000 + "f.py")
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ExtendedHeaderTooLarge, match="more than 1048576 bytes"):
        inspect_archive(buf.getvalue(), 10**8)


def test_an_all_zero_long_name_is_refused():
    with pytest.raises(UnsafeArchive, match="empty once normalised"):
        inspect_archive(header_bomb("gnu-longname", 3000), 10**8)


@pytest.mark.parametrize("name", ["", ".", "./", "././."])
def test_file_names_that_normalise_to_nothing_are_refused(name):
    with pytest.raises(UnsafeArchive):
        inspect_archive(tar_of({name: b"x"}), 10**8)


def test_a_global_pax_header_is_refused():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": "x"}) as tar:
        tar.addfile(tarfile.TarInfo("a.py"), io.BytesIO(b""))
    with pytest.raises(UnsafeArchive, match="global pax headers"):
        inspect_archive(buf.getvalue(), 10**8)


def test_ordinary_archives_still_pass(tmp_path):
    """tar -C dir -czf - . (a './' entry), long names (pax and GNU), nested folders."""
    long_name = "notes/" + "n" * 150 + ".ipynb"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tar:
            root = tarfile.TarInfo("./")
            root.type = tarfile.DIRTYPE
            tar.addfile(root)
            for name in ("./answer.ipynb", long_name):
                info = tarfile.TarInfo(name)
                info.size = 2
                tar.addfile(info, io.BytesIO(b"{}"))
        assert inspect_archive(buf.getvalue(), 10**8) == ["answer.ipynb", long_name]
        assert extract(buf.getvalue(), tmp_path / str(fmt), 10**8) == ["answer.ipynb", long_name]


def test_the_service_refuses_a_header_bomb_with_a_clear_400(app, actions, released):
    bomb = header_bomb("gnu-longname", 8 * 2**20)
    for reply in (actions.submit(data=bomb), actions.submit_raw(data=bomb)):
        assert reply.status_code == 400
        assert "extended (long name or pax) header" in reply.get_data(as_text=True)
    assert actions.submit().status_code == 202


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()
