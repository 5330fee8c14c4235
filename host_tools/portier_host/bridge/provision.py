"""`portier provision --bridge`: the bridge is provisioned as the household softphone is (its
own JID, Signal identity, certificate, pairing with the door), and its config gets the "sip"
block that `portier bridge` needs (docs/sip.md). The SIP side's addresses come from
--sip-registrar / --sip-target or are filled in afterwards; `portier bridge` refuses a block
left incomplete, saying which key."""

import json
import os
import sys

from .. import bundle
from .. import provision as prov

BRIDGE_CONFIG_NAME = "bridge.json"


def provision_bridge(args):
    dev = prov.provision_phone(args.switchboard, args.household, args.door,
                               args.name or "bridge", out=args.out,
                               household_dir=args.household_dir, db=args.db, force=args.force,
                               new=getattr(args, "new", False),
                               new_household=getattr(args, "new_household", False),
                               authority=prov.open_authority)
    with open(os.path.join(dev.folder, bundle.PHONE_CONFIG_NAME)) as f:
        cfg = json.load(f)
    os.remove(os.path.join(dev.folder, bundle.PHONE_CONFIG_NAME))
    cfg["control"] = "none"  # a service: no terminal commands
    path = os.path.join(dev.folder, BRIDGE_CONFIG_NAME)
    sip = _old_sip(path) or {"mode": "client", "registrar": "", "user": "door", "targets": [],
                             "srtp": "optional", "codecs": ["PCMU", "PCMA", "G722"],
                             "display_name": "Door"}
    if args.sip_registrar:
        sip["registrar"] = args.sip_registrar
    if args.sip_user:
        sip["user"] = args.sip_user
    if args.sip_target:
        sip["targets"] = args.sip_target
    password = os.environ.get("PORTIER_SIP_PASSWORD")
    if password:
        sip["password"] = password
    # private: the "sip" block may hold a password
    bundle.write_config(dev.folder, cfg, BRIDGE_CONFIG_NAME, private=True, extra={"sip": sip})
    return dev, path, sip


def _old_sip(path):
    """The "sip" block of a bridge rewritten by --force: the SIP settings stay."""
    try:
        with open(path) as f:
            sip = json.load(f).get("sip")
    except (OSError, ValueError, AttributeError):
        return None
    return sip if isinstance(sip, dict) else None


def main(args):
    try:
        dev, path, sip = provision_bridge(args)
    except prov.ProvisionError as e:
        print("provision: %s" % e, file=sys.stderr)
        return 2
    print("provision: %s registered in %s" % (dev.jid, dev.db))
    print("provision: wrote %s (mode 0600) and the device's keys in %s/" % (path, dev.folder))
    if not sip["registrar"] or not sip["targets"]:
        print("provision: fill in sip.registrar and sip.targets in %s (docs/sip.md)" % path)
    print("next (with the switchboard running):")
    print("  portier bridge --config %s" % path)
    return 0
