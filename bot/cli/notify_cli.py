"""``spreadwatch notify-test [--destination NAME]``: a test message to each destination of
``notify.destinations``, and what each answered. A paused destination that accepts it is resumed.

``spreadwatch notify-resume NAME``: resume a paused destination without a test message (the admins'
``/destinations resume NAME`` in the bot): its held messages go out with the next delivery."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.cli_common import CliError, ExitCode, settings_from_args
from jobs.alerting.apprise_delivery import SendOutcome, body_for, send_once
from jobs.alerting.destinations import DestinationRepo, resume_destination, sync_destinations
from jobs.config.notify_settings import expand_url
from jobs.rendering.messages import render
from jobs.store.datastore import Store


def add_notify_test_command(sub: Any) -> None:
    p = sub.add_parser("notify-test", help="send a test message to the notify.destinations and show their answers")
    p.add_argument("--config", metavar="PATH", help="YAML settings (default: ./config.yaml if present)")
    p.add_argument("--db", metavar="PATH", help="override storage.path (or storage.url with a postgresql:// URL)")
    p.add_argument("--destination", metavar="NAME", help="only this destination (default: all)")
    p.set_defaults(func=cmd_notify_test)


def cmd_notify_test(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    destinations = settings.notify.destinations
    if args.destination is not None:
        destinations = tuple(d for d in destinations if d.name == args.destination)
        if not destinations:
            known = ", ".join(d.name for d in settings.notify.destinations) or "none configured"
            raise CliError(f"--destination: no destination named {args.destination!r} ({known})", ExitCode.CONFIG)
    if not destinations:
        raise CliError("notify.destinations: no destination configured", ExitCode.CONFIG)
    store = Store(settings.storage.target)
    sync_destinations(store, settings.notify)
    repo = DestinationRepo(store)
    failed = 0
    for d in destinations:
        try:
            url = expand_url(d.url)
        except KeyError as exc:
            outcome = SendOutcome(False, False, f"environment variable ${exc.args[0]} is not set")
        else:
            body = body_for(render("notify_test", d.lang, destination=d.name), d.body_format)
            outcome = send_once(url, body, d.body_format)
        state = repo.get(d.name)
        was_paused = state is not None and state.paused
        if outcome.ok:
            resumed = resume_destination(store, d.name)
            held = f"; {resumed.released} held message(s) go out with the next delivery" if resumed else ""
            print(f"{d.name}: sent{f' (resumed: it was paused{held})' if was_paused else ''}")
        else:
            failed += 1
            kind = "permanent" if outcome.permanent else "transient"
            print(f"{d.name}: FAILED - {outcome.detail} ({kind}){' (paused)' if was_paused else ''}")
    return ExitCode.STALE if failed else ExitCode.OK


def add_notify_resume_command(sub: Any) -> None:
    p = sub.add_parser(
        "notify-resume", help="resume a paused destination: its held messages go out with the next delivery"
    )
    p.add_argument("name", metavar="NAME", help="the destination's name in notify.destinations")
    p.add_argument("--config", metavar="PATH", help="YAML settings (default: ./config.yaml if present)")
    p.add_argument("--db", metavar="PATH", help="override storage.path")
    p.set_defaults(func=cmd_notify_resume)


def cmd_notify_resume(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    names = [d.name for d in settings.notify.destinations]
    if args.name not in names:
        known = ", ".join(names) or "none configured"
        raise CliError(f"NAME: no destination named {args.name!r} in notify.destinations ({known})", ExitCode.CONFIG)
    store = Store(settings.storage.path)
    sync_destinations(store, settings.notify)
    resumed = resume_destination(store, args.name)
    assert resumed is not None  # synchronised just above
    if not resumed.was_paused:
        print(f"{args.name}: not paused; {resumed.released} pending message(s)")
    else:
        print(
            f"{args.name}: resumed; {resumed.released} held message(s) go out with the next delivery "
            "(the running bot's within a minute, else the next run-daily)"
        )
    return ExitCode.OK
