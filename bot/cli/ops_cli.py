"""``spreadwatch backup PATH`` and ``spreadwatch restore PATH`` (SQLite store; see jobs.store.backup), and
``spreadwatch migrate-store --from sqlite:PATH --to postgresql://...`` (see jobs.store.migrate_store).

Exit codes: 0 done; 1 it could not be done now (a running service, a refresh, a write error);
2 a wrong file or argument (not a spreadwatch store, an unknown schema version, a missing file);
4 a file cannot be used (the store missing or damaged, a damaged backup, an output folder missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.cli.cli_common import ExitCode, add_common_options, input_file, output_file, settings_from_args
from jobs.config.secrets import mask
from jobs.store.backup import StoreFile, backup, restore
from jobs.store.datastore import Store
from jobs.store.db import StoreOperationError
from jobs.store.migrate_store import migrate, parse_target


def add_ops_commands(sub: Any) -> None:
    p = sub.add_parser("backup", help="copy the store to PATH, consistent while the service runs")
    add_common_options(p)
    p.add_argument("path", type=output_file, metavar="PATH", help="the backup file to write")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the store with a backup (stop the service first)")
    add_common_options(p)
    p.add_argument("path", type=input_file, metavar="PATH", help="a backup written by spreadwatch backup")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the store even while a service uses it (then restart the service at once)",
    )
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "migrate-store",
        help="copy every table of one store into a new, empty one (SQLite to PostgreSQL, or back) and verify",
    )
    p.add_argument("--from", dest="source", required=True, metavar="STORE", help="sqlite:PATH or postgresql://...")
    p.add_argument("--to", dest="target", required=True, metavar="STORE", help="postgresql://USER@HOST:PORT/DB")
    p.set_defaults(func=cmd_migrate_store)


def cmd_migrate_store(args: argparse.Namespace) -> int:
    try:
        source_spec = parse_target(args.source, "--from")
        target_spec = parse_target(args.target, "--to")
        if isinstance(source_spec, Path) and not source_spec.is_file():
            raise StoreOperationError(f"--from: {source_spec}: no such store file", ExitCode.CONFIG)
        source = Store(source_spec)
        target = Store(target_spec)
        try:
            counts = migrate(source, target)
        finally:
            source.close_all()
            target.close_all()
    except StoreOperationError as exc:
        print(f"migrate-store: {exc}", file=sys.stderr)
        return exc.exit_code
    width = max(len(c.table) for c in counts)
    for c in counts:
        print(f"  {c.table:<{width}}  {c.target:>9,} row(s)")
    total = sum(c.target for c in counts)
    print(
        f"migrate-store: {source.describe()} -> {target.describe()}: {len(counts)} tables, {total:,} rows, "
        "counts verified; point storage.url at the new store and start the service"
    )
    return ExitCode.OK


def _describe(info: StoreFile) -> str:
    return f"schema version {info.schema_version}, {info.tables} tables, {info.rows:,} rows, {info.size:,} bytes"


def _postgres_only(command: str, url: str) -> int:
    """PostgreSQL has its own, better tools: say which, with this store's connection filled in."""
    where = mask(url)
    if command == "backup":
        print(
            f"backup: the store is on PostgreSQL ({where}): back it up with PostgreSQL's own tool, e.g.\n"
            f"  pg_dump --format=custom --file=spreadwatch.dump '{where}'\n"
            "(a consistent snapshot while the service runs; PGPASSWORD supplies the password), "
            "or continuous archiving for point-in-time recovery",
            file=sys.stderr,
        )
    else:
        print(
            f"restore: the store is on PostgreSQL ({where}): stop every instance, then e.g.\n"
            f"  pg_restore --clean --if-exists --dbname='{where}' spreadwatch.dump",
            file=sys.stderr,
        )
    return ExitCode.CONFIG


def cmd_backup(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if settings.storage.url:
        return _postgres_only("backup", settings.storage.url)
    try:
        info = backup(settings.storage.path, args.path, overwrite=args.force)
    except StoreOperationError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    print(f"backup: {settings.storage.path} -> {info.path} ({_describe(info)})")
    return ExitCode.OK


def cmd_restore(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if settings.storage.url:
        return _postgres_only("restore", settings.storage.url)
    try:
        done = restore(args.path, settings.storage.path, force=args.force)
    except StoreOperationError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    kept = f"; the replaced store is kept as {done.kept}" if done.kept is not None else ""
    print(f"restore: {args.path} -> {settings.storage.path} ({_describe(done.store)}){kept}")
    if done.in_use:
        print("warning: a running service was using the store: restart it now", file=sys.stderr)
    return ExitCode.OK
