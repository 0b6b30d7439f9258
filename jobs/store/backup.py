"""Backup and restore of the SQLite store, safe while the service runs.

* ``backup`` copies through SQLite's online backup API (``sqlite3.Connection.backup``) in one step:
  one read transaction, so the copy is the store as of one commit, WAL contents included, and in
  WAL mode the service's writers go on meanwhile. The copy is written beside the target, checked,
  switched to the plain rollback journal (one self-contained file) and renamed into place, so a
  crash never leaves a half-written backup under the target's name.
* ``restore`` checks that the file is a spreadwatch store of a schema version this program knows
  (every table the migrations up to that version create, an intact file), copies it beside the
  store, and swaps it in with renames. It refuses while a service holds the store's service lock
  (:mod:`jobs.store.service_lock`) or a refresh holds its refresh lock, unless forced. The replaced store
  is kept (renamed, with its WAL) beside it: a mistaken restore loses nothing.

Errors are :class:`StoreOperationError`: a one-line message and the exit code (2: a wrong file named as
restore's argument: missing, not SQLite, not a spreadwatch store, a newer schema version; 4: the store
or a file cannot be used: damaged, a folder, an output folder missing; 1: the operation could not be
done now).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jobs.store.datastore import MIGRATIONS, refresh_lock_path
from jobs.store.db import EXIT_ARGS, EXIT_FILE, StoreOperationError
from jobs.store.private_files import make_private_folder, touch_private
from jobs.store.service_lock import exclusive, try_exclusive

SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class StoreFile:
    path: Path
    schema_version: int
    tables: int
    rows: int
    size: int


@dataclass(frozen=True)
class Restored:
    store: StoreFile
    kept: Path | None  # where the replaced store went
    in_use: bool = False  # forced while a service held the store: it must be restarted now


def expected_tables(version: int) -> set[str]:
    """The tables a store of ``version`` has: what the migrations up to it create (no second list)."""
    conn = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        return _tables(conn)
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {r[0] for r in rows}


def _open(path: Path, what: str, read_only: bool, wrong: int = EXIT_FILE) -> sqlite3.Connection:
    """``wrong``: the exit code when ``path`` is not an SQLite file at all (2 for restore's argument)."""
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:  # a name too long for the file system
        raise StoreOperationError(f"{what}: {path}: {exc.strerror}", wrong) from None
    if not exists:
        raise StoreOperationError(f"{what}: {path}: no such file", wrong)
    if not is_file:
        raise StoreOperationError(f"{what}: {path}: not a file", wrong)
    # a URI with mode: sqlite3.connect would otherwise create an empty database where none is
    uri = f"file:{_quote(path)}?mode={'ro' if read_only else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreOperationError(f"{what}: {path}: not an SQLite database ({exc})", wrong) from None
    return conn


def _quote(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()))


def check_store(conn: sqlite3.Connection, what: str, path: Path, wrong: int = EXIT_FILE) -> StoreFile:
    """The file's schema version and size, if it is an intact spreadwatch store this program knows.

    ``wrong``: the exit code when it is another kind of file (2 for restore's argument); damage is 4."""
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        present = _tables(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreOperationError(f"{what}: {path}: unreadable ({exc})", EXIT_FILE) from None
    known = len(MIGRATIONS)
    if version > known:
        raise StoreOperationError(
            f"{what}: {path}: schema version {version} is newer than this program knows ({known}); upgrade spreadwatch",
            wrong,
        )
    missing = expected_tables(version) - present if version > 0 else set()
    if version <= 0 or missing:
        detail = f"missing table(s) {', '.join(sorted(missing))}" if missing else "no schema version"
        raise StoreOperationError(f"{what}: {path}: not a spreadwatch store ({detail})", wrong)
    try:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        rows = sum(int(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in sorted(present))
    except sqlite3.DatabaseError as exc:
        raise StoreOperationError(f"{what}: {path}: damaged ({exc})", EXIT_FILE) from None
    if verdict != "ok":
        raise StoreOperationError(f"{what}: {path}: damaged ({verdict})", EXIT_FILE)
    size = path.stat().st_size if path.exists() else 0
    return StoreFile(path, version, len(present), rows, size)


def _copy(src: sqlite3.Connection, target_tmp: Path, what: str) -> StoreFile:
    """``src`` into a fresh file ``target_tmp``, checked, as one self-contained file, synced to disk."""
    target_tmp.unlink(missing_ok=True)
    touch_private(target_tmp)  # a backup holds what the store does: owner-only, as the store
    dst = sqlite3.connect(target_tmp)
    try:
        # pages=-1: the whole database in one step, i.e. one read transaction: a consistent snapshot
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # no -wal beside it: the file alone is the backup
        info = check_store(dst, what, target_tmp)
    finally:
        dst.close()
    _fsync(target_tmp)
    return info


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _partial(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}-{os.getpid()}")


def backup(store_path: Path, target: Path, overwrite: bool = False) -> StoreFile:
    if target.exists() and target.is_dir():
        raise StoreOperationError(f"backup: {target}: is a folder; give the backup file's path", EXIT_FILE)
    if not target.parent.is_dir():
        raise StoreOperationError(f"backup: {target.parent}: no such folder", EXIT_FILE)
    if target.exists() and store_path.exists() and os.path.samefile(target, store_path):
        raise StoreOperationError(f"backup: {target} is the store itself", EXIT_ARGS)
    if target.exists() and not overwrite:
        raise StoreOperationError(f"backup: {target} exists; pass --force to overwrite it", EXIT_ARGS)
    src = _open(store_path, "storage.path", read_only=False)
    try:
        check_store(src, "storage.path", store_path)
        tmp = _partial(target, "partial")
        try:
            info = _copy(src, tmp, "backup")
            os.replace(tmp, target)
        except OSError as exc:
            raise StoreOperationError(f"backup: {target}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        src.close()
    _fsync_dir(target.parent)
    return StoreFile(target, info.schema_version, info.tables, info.rows, target.stat().st_size)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders; the rename is done anyway
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _no_refresh(store_path: Path) -> Iterator[bool]:
    """True while no refresh holds the store's refresh lock (and none can start)."""
    with try_exclusive(refresh_lock_path(store_path)) as free:
        yield free


def restore(source: Path, store_path: Path, force: bool = False, now: datetime | None = None) -> Restored:
    src = _open(source, "restore", read_only=True, wrong=EXIT_ARGS)
    try:
        check_store(src, "restore", source, wrong=EXIT_ARGS)
        if store_path.is_dir():
            raise StoreOperationError(
                f"restore: storage.path {store_path} is a folder: set storage.path (or --db) to the store's file",
                EXIT_FILE,
            )
        if store_path.exists() and os.path.samefile(source, store_path):
            raise StoreOperationError(f"restore: {source} is the store itself", EXIT_ARGS)
        make_private_folder(store_path.parent)
        tmp = _partial(store_path, "restoring")
        try:
            info = _copy(src, tmp, "restore")
            with exclusive(store_path) as no_service, _no_refresh(store_path) as no_refresh:
                if not no_service and not force:
                    raise StoreOperationError(
                        f"restore: storage.path {store_path} is in use by a running service; stop it first "
                        "(or pass --force, then restart it at once: it would go on writing to the replaced file)"
                    )
                if not no_refresh and not force:
                    raise StoreOperationError(
                        f"restore: a refresh is writing to {store_path}; try again when it is done"
                    )
                kept = _set_aside(store_path, now or datetime.now(UTC))
                os.replace(tmp, store_path)
                in_use = not no_service
        except OSError as exc:
            raise StoreOperationError(f"restore: {store_path}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        src.close()
    _fsync_dir(store_path.parent)
    return Restored(StoreFile(store_path, info.schema_version, info.tables, info.rows, info.size), kept, in_use)


def _set_aside(store_path: Path, now: datetime) -> Path | None:
    """Rename the current store, its WAL first, out of the way; they stay one database under the new name.

    The WAL goes before the main file: a connection opening the store in between then sees the main
    file without its WAL (older rows), never the new file with the old WAL applied to it.
    """
    if not store_path.exists():
        for side in SIDE_FILES:
            Path(f"{store_path}{side}").unlink(missing_ok=True)
        return None
    stem = f"{store_path.name}.replaced-{now.strftime('%Y%m%dT%H%M%SZ')}"
    kept = store_path.with_name(stem)
    n = 1
    while kept.exists():  # two restores in one second: keep both replaced stores
        n += 1
        kept = store_path.with_name(f"{stem}-{n}")
    for side in SIDE_FILES:
        old = Path(f"{store_path}{side}")
        if old.exists():
            os.replace(old, f"{kept}{side}")
    os.replace(store_path, kept)
    return kept
