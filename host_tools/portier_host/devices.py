"""`portier devices`: the household's devices, and removing one (a lost phone).

    portier devices list   --household home [--household-dir DIR] [--db FILE] [--json]
    portier devices remove JID --household home [...]
    portier devices revoke JID --household home [...]

`remove` takes the device off the switchboard (its row and prekeys: its certificate is refused
at the next connect, a running switchboard closes its link within seconds, it is no longer
rung) and revokes it at every door the household authorised it for. `revoke` does only the
latter (the device keeps its account, e.g. to be authorised again with new keys). A revocation
is made with the household's pairing authority (its passphrase: $PORTIER_HOUSEHOLD_PASSPHRASE
or a prompt) and waits in the switchboard's database until its door confirms it: the door
unpairs the device, deletes its session and pinned identity and refuses its authorisations
(docs/protocol.md 8.5). The switchboard cannot make one, only deliver it.
"""

import json
import os
import sys

from . import provision
from .switchboard_db import Database

EXAMPLE = """examples:
  portier devices list --household home
  portier devices remove anna:2@home --household home     (a lost phone)"""


class DevicesError(Exception):
    pass


def _paths(args):
    household_dir = args.household_dir or os.path.join("households", args.household)
    db = args.db or os.path.join(household_dir, "switchboard.db")
    if not os.path.exists(db):
        raise DevicesError("no switchboard database at %s (`portier provision` makes it)" % db)
    return household_dir, db


def _issued(household_dir):
    """{device: [doors]} from the authority's public record of authorisations."""
    from .authority import ISSUED_FILE

    try:
        with open(os.path.join(household_dir, ISSUED_FILE)) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}, {}
    doors = {}
    for key in doc.get("next", {}):
        door, device = key.split(" ")
        doors.setdefault(device, []).append(door)
    return doors, doc.get("revoked", {})


def listing(household, household_dir, db_path):
    db = Database(db_path)
    try:
        authorised, revoked = _issued(household_dir)
        pending = db.revocations()
        rows = []
        for jid in db.devices(household):
            rows.append({"jid": jid, "authorised_at": sorted(authorised.get(jid, [])),
                         "revocation_pending_at": sorted(d for d, dev, _ in pending if dev == jid)})
        gone = sorted(set(dev for _, dev, _ in pending) - set(r["jid"] for r in rows))
        for jid in gone:  # removed from the switchboard, a door has not confirmed yet
            rows.append({"jid": jid, "removed": True, "authorised_at": [],
                         "revocation_pending_at": sorted(d for d, dev, _ in pending if dev == jid)})
        return rows
    finally:
        db.close()


def revoke(household_dir, db_path, jid, remove, authority_opener=provision.open_authority):
    """Revoke jid at every door it was authorised for (and remove it from the switchboard
    when remove); returns (doors revoked at, removed)."""
    from portier.config import ConfigError, check_jid

    try:
        check_jid(jid, "device")
    except ConfigError as e:
        raise DevicesError(str(e)) from None
    db = Database(db_path)
    try:
        known = db.device(jid) is not None
        doors = _issued(household_dir)[0].get(jid, [])
        if not known and not doors:
            raise DevicesError("no device %s in %s" % (jid, db_path))
        if doors:
            auth = authority_opener(household_dir)
            for door in doors:
                db.add_revocation(door, jid, auth.revoke(door, jid))
        removed = db.remove_device(jid) if remove else False
        return doors, removed
    finally:
        db.close()


def main(args):
    try:
        household_dir, db = _paths(args)
        if args.devices_command == "list":
            rows = listing(args.household, household_dir, db)
            if args.json:
                print(json.dumps(rows, indent=1))
                return 0
            for r in rows:
                note = " (removed)" if r.get("removed") else ""
                pending = r["revocation_pending_at"]
                print("%-28s paired under the household's authority with: %s%s%s" % (
                    r["jid"], ", ".join(r["authorised_at"]) or "-", note,
                    ("; revocation waiting for " + ", ".join(pending)) if pending else ""))
            return 0
        doors, removed = revoke(household_dir, db, args.jid, args.devices_command == "remove")
    except (DevicesError, provision.ProvisionError, EOFError) as e:
        print("devices: %s" % (str(e) or "no input"), file=sys.stderr)
        return 2
    if removed:
        print("devices: %s removed from the switchboard (its certificate is refused, it is no "
              "longer rung)" % args.jid)
    for door in doors:
        print("devices: revocation for %s waits for %s (delivered when it is connected)"
              % (args.jid, door))
    if not doors:
        print("devices: %s was authorised at no door" % args.jid)
    return 0


def add_arguments(p):
    from . import cliargs

    sub = p.add_subparsers(dest="devices_command", required=True, metavar="list|remove|revoke")
    for name, help in (("list", "the household's devices and where they may pair"),
                       ("remove", "take a device off the switchboard and revoke it at its doors"),
                       ("revoke", "revoke a device at its doors (it keeps its account)")):
        example = "portier devices %s %s--household home" % (name, "" if name == "list"
                                                               else "anna:2@home ")
        q = sub.add_parser(name, help=help, description=help, epilog="example:\n  " + example,
                           formatter_class=cliargs.Formatter)
        if name != "list":
            q.add_argument("jid", help="the device, e.g. anna:2@home")
        q.add_argument("--household", required=True, help="the household's name")
        cliargs.household_files(q)
        if name == "list":
            q.add_argument("--json", action="store_true", help="one JSON document")
