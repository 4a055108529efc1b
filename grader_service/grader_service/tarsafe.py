"""Safe tar handling shared by the service, the sandbox and the exchange client (stdlib only).

Only regular files and directories with relative, non-escaping names are accepted;
links, devices, FIFOs, absolute paths, ``..`` and file names that normalise to nothing
(``.``) are rejected before anything is written.

Extended headers are bounded before ``tarfile`` reads them: it reads a whole GNU long
name (``L``/``K``) or pax (``x``) header into memory, so a 0.4 MB gzip holding a 400 MiB
long name took 427 MiB to inspect. Here each such header may hold at most
``MAX_EXTENDED_HEADER_BYTES``, an archive at most ``MAX_TOTAL_EXTENDED_HEADER_BYTES`` of
them, and global pax headers (``g``, copied into every later member) are refused.
Extraction writes files itself, so it does not depend on ``tarfile`` extraction filters
(absent in the sandbox's Python 3.11.2).
"""

import contextlib
import fnmatch
import gzip
import io
import os
import posixpath
import shutil
import tarfile

DEFAULT_MAX_MEMBERS = 10_000
#: one GNU long name/link or pax header (a path is at most 4 KiB on Linux)
MAX_EXTENDED_HEADER_BYTES = 64 * 1024
#: all of an archive's extended headers together
MAX_TOTAL_EXTENDED_HEADER_BYTES = 1024 * 1024
_EXTENDED_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                   tarfile.SOLARIS_XHDTYPE)


class UnsafeArchive(ValueError):
    """The archive contains something we never extract (a link, ``..``, a device...)."""


class ArchiveTooLarge(UnsafeArchive):
    """The archive unpacks to more bytes or members than allowed."""


class ExtendedHeaderTooLarge(UnsafeArchive):
    """A long-name or pax header larger than any real file name needs."""


class _BoundedTarInfo(tarfile.TarInfo):
    """``TarInfo`` that checks an extended header's size before ``tarfile`` reads it."""

    def _proc_member(self, tarfile_):
        if self.type == tarfile.XGLTYPE:
            raise UnsafeArchive("global pax headers are not accepted (e.g. from git "
                                "archive); pack the files with tar or submit from JupyterLab")
        if self.type in _EXTENDED_TYPES:
            if self.size > MAX_EXTENDED_HEADER_BYTES:
                raise ExtendedHeaderTooLarge(
                    f"an extended (long name or pax) header of {self.size} bytes; at most "
                    f"{MAX_EXTENDED_HEADER_BYTES} are accepted")
            used = getattr(tarfile_, "_extended_header_bytes", 0) + self.size
            if used > MAX_TOTAL_EXTENDED_HEADER_BYTES:
                raise ExtendedHeaderTooLarge(
                    f"more than {MAX_TOTAL_EXTENDED_HEADER_BYTES} bytes of extended (long "
                    f"name or pax) headers")
            tarfile_._extended_header_bytes = used
        return super()._proc_member(tarfile_)


def _open(data):
    """Open bytes (random access) or a binary stream (read once, e.g. stdin)."""
    if isinstance(data, bytes | bytearray):
        fileobj, mode = io.BytesIO(data), "r:*"
    else:
        fileobj, mode = data, "r|*"
    try:
        return tarfile.open(fileobj=fileobj, mode=mode, tarinfo=_BoundedTarInfo)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise UnsafeArchive(f"not a readable tar archive: {err}") from err


def _check_member(member):
    name = member.name
    if not (member.isfile() or member.isdir()):
        kind = "link" if (member.issym() or member.islnk()) else "special file"
        raise UnsafeArchive(f"{name!r} is a {kind}; only regular files and directories are allowed")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"{name!r} is an absolute path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise UnsafeArchive(f"{name!r} escapes the archive root ('..')")
    normal = posixpath.normpath(name.replace("\\", "/"))
    if not name.strip() or (member.isfile() and normal in (".", "")):
        raise UnsafeArchive(f"a {'file' if member.isfile() else 'directory'} named {name!r}: "
                            f"its name is empty once normalised")
    return normal


def inspect_archive(data, max_unpacked_bytes, max_members=DEFAULT_MAX_MEMBERS):
    """Validate a tar(.gz) and return the normalised names of its regular files.

    Raises :class:`UnsafeArchive` or :class:`ArchiveTooLarge`; never writes anything.
    """
    total = 0
    files = []
    with _open(data) as tar:
        try:
            for count, member in enumerate(tar, start=1):
                if count > max_members:
                    raise ArchiveTooLarge(f"more than {max_members} entries")
                name = _check_member(member)
                if member.isfile():
                    total += member.size
                    if total > max_unpacked_bytes:
                        raise ArchiveTooLarge(f"unpacks to more than {max_unpacked_bytes} bytes")
                    files.append(name)
        except (tarfile.TarError, EOFError, OSError) as err:
            raise UnsafeArchive(f"corrupt tar archive: {err}") from err
    return files


def extract(data, dest, max_unpacked_bytes, max_members=DEFAULT_MAX_MEMBERS):
    """Validate then extract ``data`` (bytes or a stream) below ``dest``; return file names.

    A stream is read once, so each member is checked just before it is written; a
    rejected member stops extraction (the caller discards ``dest``).
    """
    os.makedirs(dest, exist_ok=True)
    root = os.path.realpath(dest)
    total = 0
    files = []
    with _open(data) as tar:
        for count, member in enumerate(tar, start=1):
            if count > max_members:
                raise ArchiveTooLarge(f"more than {max_members} entries")
            name = _check_member(member)
            target = os.path.realpath(os.path.join(root, name))
            if target != root and not target.startswith(root + os.sep):
                raise UnsafeArchive(f"{member.name!r} escapes the destination")
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            total += member.size
            if total > max_unpacked_bytes:
                raise ArchiveTooLarge(f"unpacks to more than {max_unpacked_bytes} bytes")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            files.append(name)
    return files


def pack_directory(path, exclude=(), max_bytes=None, compress=True, include=None):
    """Tar(.gz) the contents of ``path`` with names relative to it.

    ``exclude`` holds glob patterns matched against every path component (e.g.
    ``.ipynb_checkpoints``); if ``include`` is given, only files whose name matches one
    of its patterns are packed; symlinks are skipped. Raises :class:`ArchiveTooLarge`
    when the files add up to more than ``max_bytes``. The same files give the same bytes
    (gzip header without a time stamp), so a re-upload is the same content-addressed blob.
    """
    buf = io.BytesIO()
    total = 0
    gz = gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) if compress else None
    with gz or contextlib.nullcontext(), tarfile.open(fileobj=gz or buf, mode="w") as tar:
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not _excluded(d, exclude)
                                 and not os.path.islink(os.path.join(dirpath, d)))
            for filename in sorted(filenames):
                full = os.path.join(dirpath, filename)
                if _excluded(filename, exclude) or not os.path.isfile(full) or os.path.islink(full):
                    continue
                if include is not None and not _excluded(filename, include):
                    continue
                total += os.path.getsize(full)
                if max_bytes is not None and total > max_bytes:
                    raise ArchiveTooLarge(f"{path} holds more than {max_bytes} bytes")
                tar.add(full, arcname=os.path.relpath(full, path), recursive=False,
                        filter=_normalise_owner)
    return buf.getvalue()


def merge_archives(parts, max_unpacked_bytes, files=None, rewrite=None):
    """Build one uncompressed tar with each ``{prefix: tar_bytes}`` part below ``prefix/``,
    plus top-level ``files`` (``{name: bytes}``). ``rewrite`` (``{prefix: fn(name, data)
    -> data}``) transforms the files of a part on the way (e.g. a grading copy)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        for name, payload in (files or {}).items():
            info = tarfile.TarInfo(_check_member(tarfile.TarInfo(name)))
            info.size, info.mode = len(payload), 0o644
            out.addfile(info, io.BytesIO(payload))
        for prefix, data in parts.items():
            inspect_archive(data, max_unpacked_bytes)
            with _open(data) as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    name = _check_member(member)
                    info = tarfile.TarInfo(posixpath.join(prefix, name))
                    info.size = member.size
                    info.mode = 0o644
                    info.mtime = member.mtime
                    with tar.extractfile(member) as src:
                        if prefix in (rewrite or {}):
                            payload = rewrite[prefix](name, src.read())
                            info.size = len(payload)
                            out.addfile(info, io.BytesIO(payload))
                        else:
                            out.addfile(info, src)
    return buf.getvalue()


def _excluded(name, patterns):
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _normalise_owner(info):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() else 0o644
    return info
