"""`kinetoscope admin ...`: manage accounts from the machine that runs the studio."""

from __future__ import annotations

import argparse
import getpass
import sys

SCOPES = ("videos:read", "videos:write", "admin")  # accounts.SCOPES, without importing the studio to parse


class AdminError(Exception):
    pass


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise AdminError("no password: pass --password-stdin and pipe it in, or run in a terminal")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise AdminError("the two passwords differ")
    return first


def _user(svc, name: str):
    from kinetoscope.studio import accounts

    user = accounts.find_user(svc.sessions, name)
    if user is None:
        raise AdminError(f"no user named {name!r}")
    return user


def run(args, settings) -> int:
    from kinetoscope.studio import accounts
    from kinetoscope.studio.services import Services

    assert SCOPES == accounts.SCOPES
    svc = Services.start(settings)
    try:
        return _run(args, svc)
    except ValueError as e:  # AccountError
        raise AdminError(str(e)) from None
    finally:
        svc.close()


def _run(args, svc) -> int:
    from kinetoscope.studio import accounts, audit

    a = args.admin_command
    if a == "create-user":
        user = accounts.create_user(svc.sessions, args.username, _password(args), is_admin=args.admin, actor="cli")
        print(f"created {'admin ' if user.is_admin else ''}user {user.username} ({user.id})")
    elif a == "list-users":
        for u in accounts.list_users(svc.sessions):
            print(f"{u.id}  {u.username:20} {'admin' if u.is_admin else 'user ':5} {'disabled' if u.disabled else ''}")
    elif a in ("disable-user", "enable-user"):
        admin = accounts.User(id="cli")  # the actor recorded in the audit log
        accounts.set_disabled(svc.sessions, admin, _user(svc, args.username).id, a == "disable-user")
        print(f"{args.username}: {'disabled' if a == 'disable-user' else 'enabled'}")
    elif a == "create-key":
        secret, row = accounts.create_key(svc.sessions, _user(svc, args.username), args.name, args.scopes, days=args.days)
        print(f"{secret}\n(shown once; stored only as a hash. id {row.id}, scopes {row.scopes})")
    elif a == "revoke-key":
        accounts.revoke_key(svc.sessions, accounts.User(id="cli", is_admin=True), args.key_id)
        print(f"revoked {args.key_id}")
    elif a == "invite":
        token = accounts.create_invite(svc.sessions, accounts.User(id="cli"), is_admin=args.admin, hours=args.hours)
        print(f"{args.base_url.rstrip('/')}/invite/{token}\n(single use, expires in {args.hours:g} h)")
    elif a == "audit":
        sys.stdout.write(audit.jsonl(svc.sessions))
    elif a == "export-training-data":
        from kinetoscope.studio.training_data import export_consented

        r = export_consented(svc, args.out)
        print(f"{r['exported']} uploads with their owners' consent written to {r['folder']} (manifest.jsonl); "
              f"{r['without_consent']} without consent left out, {r['missing']} missing")
    return 0


def add_parser(sub) -> None:
    ad = sub.add_parser("admin", help="manage the studio's accounts, keys, invites; export the audit log",
                        description="Manage accounts on this studio's database (same KINETOSCOPE_* settings as serve).")
    ad.add_argument("--data-dir", default=None, help="as for serve")
    s = ad.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    cu = s.add_parser("create-user", help="create a user (the first one with --admin)")
    cu.add_argument("username")
    cu.add_argument("--admin", action="store_true", help="an administrator")
    cu.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    s.add_parser("list-users", help="list users")
    for name in ("disable-user", "enable-user"):
        p = s.add_parser(name, help=f"{name.split('-')[0]} a user's access")
        p.add_argument("username")
    ck = s.add_parser("create-key", help="create an API key for a user (printed once)")
    ck.add_argument("username")
    ck.add_argument("--name", default="cli")
    ck.add_argument("--scopes", nargs="+", default=["videos:read", "videos:write"], choices=list(SCOPES))
    ck.add_argument("--days", type=float, default=None, help="expires after this many days")
    rk = s.add_parser("revoke-key", help="revoke an API key by id")
    rk.add_argument("key_id")
    iv = s.add_parser("invite", help="print a single-use invite link")
    iv.add_argument("--admin", action="store_true")
    iv.add_argument("--hours", type=float, default=48.0)
    iv.add_argument("--base-url", default="http://127.0.0.1:8000")
    s.add_parser("audit", help="the audit log as JSON lines")
    et = s.add_parser("export-training-data", help="uploads whose owners consented, as a folder dataset for training")
    et.add_argument("--out", required=True, help="folder to write (files/ + manifest.jsonl)")


__all__ = ["AdminError", "add_parser", "argparse", "run"]
