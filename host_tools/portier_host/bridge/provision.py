"""`portier provision --bridge`: the bridge is provisioned as the household softphone is (its
own JID, Signal identity, certificate, pairing with the door), and its config gets the "sip"
block that `portier bridge` needs (docs/sip.md). The SIP side's addresses come from
--sip-registrar / --sip-target or are filled in afterwards; `portier bridge` refuses a block
left incomplete, saying which key."""

import json
import os
import sys

from .. import provision as prov

BRIDGE_CONFIG_NAME = "bridge.json"


def provision_bridge(args):
    bundle = prov.provision_phone(args.switchboard, args.household, args.door,
                                  args.name or "bridge", out=args.out,
                                  household_dir=args.household_dir, db=args.db, force=args.force)
    with open(os.path.join(bundle.folder, prov.PHONE_CONFIG_NAME)) as f:
        cfg = json.load(f)
    os.remove(os.path.join(bundle.folder, prov.PHONE_CONFIG_NAME))
    cfg["control"] = "none"  # a service: no terminal commands
    sip = {"mode": "client", "registrar": args.sip_registrar or "",
           "user": args.sip_user or "door", "targets": args.sip_target or [],
           "srtp": "optional", "codecs": ["PCMU", "PCMA", "G722"], "display_name": "Door"}
    password = os.environ.get("PORTIER_SIP_PASSWORD")
    if password:
        sip["password"] = password
    cfg["sip"] = sip
    path = os.path.join(bundle.folder, BRIDGE_CONFIG_NAME)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold a password
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    return bundle, path, sip


def main(args):
    try:
        bundle, path, sip = provision_bridge(args)
    except prov.ProvisionError as e:
        print("provision: %s" % e, file=sys.stderr)
        return 2
    print("provision: %s registered in %s" % (bundle.jid, bundle.db))
    print("provision: wrote %s (mode 0600) and the device's keys in %s/" % (path, bundle.folder))
    if not sip["registrar"] or not sip["targets"]:
        print("provision: fill in sip.registrar and sip.targets in %s (docs/sip.md)" % path)
    print("next (with the switchboard running):")
    print("  portier bridge --config %s" % path)
    return 0
