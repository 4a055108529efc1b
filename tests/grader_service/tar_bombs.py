"""Tar archives whose headers ask ``tarfile`` to read a lot into memory: a GNU long name
or a pax header of ``header_bytes`` (zeros, or a long ``path`` record), then one
ordinary file; gzip-compressed as they are built, so a 400 MiB header is never in
memory here (about 0.4 MB compressed). Used by the tests and ``benchmarks/``."""

import io
import tarfile
import zlib

BLOCK = tarfile.BLOCKSIZE


def _header(name, type_, size):
    info = {"name": name, "mode": 0o644, "uid": 0, "gid": 0, "size": size, "mtime": 0,
            "chksum": 0, "type": type_, "linkname": "", "uname": "", "gname": "",
            "devmajor": 0, "devminor": 0, "magic": tarfile.GNU_MAGIC}
    return tarfile.TarInfo._create_header(info, tarfile.GNU_FORMAT, "utf-8", "strict")


def header_bomb(kind="gnu-longname", header_bytes=400 * 2**20, chunk=2**20):
    """The gzip bytes of the archive; ``kind`` is ``gnu-longname`` (``L``, zeros: the name
    is empty), ``gnu-longlink`` (``K``) or ``pax`` (``x``, one long ``path`` record)."""
    type_, name = {"gnu-longname": (tarfile.GNUTYPE_LONGNAME, "././@LongLink"),
                   "gnu-longlink": (tarfile.GNUTYPE_LONGLINK, "././@LongLink"),
                   "pax": (tarfile.XHDTYPE, "PaxHeader/a.py")}[kind]
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = io.BytesIO()
    out.write(gz.compress(_header(name, type_, header_bytes)))
    for piece in _payload(kind, header_bytes, chunk):
        out.write(gz.compress(piece))
    out.write(gz.compress(b"\0" * (-header_bytes % BLOCK)))
    payload = b"print('hi')\n"
    out.write(gz.compress(_header("answer.py", tarfile.REGTYPE, len(payload))))
    out.write(gz.compress(payload + b"\0" * (-len(payload) % BLOCK) + b"\0" * (2 * BLOCK)))
    out.write(gz.flush())
    return out.getvalue()


def _payload(kind, size, chunk):
    """The header's ``size`` bytes, ``chunk`` at a time."""
    if kind == "pax":  # one record "<size> path=aaa...\n"; the size counts its own digits
        prefix = f"{size} path=".encode()
        yield prefix
        left = size - len(prefix) - 1
        while left > 0:
            yield b"a" * min(chunk, left)
            left -= min(chunk, left)
        yield b"\n"
        return
    left = size
    while left > 0:
        yield b"\0" * min(chunk, left)
        left -= min(chunk, left)
