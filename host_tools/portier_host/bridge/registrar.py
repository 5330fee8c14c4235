"""Registrar mode's registrar: Kamailio (Debian's `kamailio`), configured and run by the bridge.

SIP phones register with it under the names and passwords of the bridge's "sip.phones" block
(digest authentication for REGISTER and INVITE: there is no way in without a password); the
bridge's own user agent registers with it too, under a password made at each start, and rings
the phones through it. The bridge's tests use the same class, without users, as the
household's PBX (bridge/lab.py).

Why Kamailio rather than a registrar of our own: the issue asks for a maintained SIP stack;
PJSIP is a user agent and has no registrar; Kamailio is the registrar the household may run
anyway (docs/sip.md), so registrar mode runs the very same thing on the bridge's machine.
"""

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

KAMAILIO = "kamailio"
_START_S = 10


class LabError(Exception):
    """Kamailio (or, in the tests, baresip) did not start."""


def free_port(kind=socket.SOCK_DGRAM, host="127.0.0.1"):
    """A port free for UDP (and TCP) on host now; the caller binds it soon after."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind((host, port))
            return port
        except OSError:
            continue


# A registrar and proxy: REGISTER saves the contact, a request for a registered user goes to
# its contact, in-dialog requests follow the route set. With users, REGISTER and INVITE need
# digest authentication against their passwords (auth_db over db_text files).
_KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
disable_tcp=yes
listen=udp:{host}:{port}
mpath="{mpath}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
{auth_modules}
modparam("usrloc", "db_mode", 0)
modparam("rr", "append_fromtag", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) t_relay();
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        xlog("L_NOTICE", "lab: CANCEL to $rU reason=[$hdr(Reason)]\n");
        if (t_check_trans()) t_relay();
        exit;
    }}
    t_check_trans();
{auth_route}
    if (is_method("REGISTER")) {{
        save("location");
        exit;
    }}
    if (is_method("INVITE")) record_route();
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    t_relay();
}}
"""

_AUTH_MODULES = """loadmodule "db_text.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "text://{db}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "use_domain", 0)
modparam("auth_db", "load_credentials", "")
"""

_AUTH_ROUTE = """    if (is_method("REGISTER|INVITE")) {
        if (!auth_check("$fd", "subscriber", "1")) {
            auth_challenge("$fd", "0");
            exit;
        }
        consume_credentials();
    }
"""


class Kamailio:
    """Kamailio as a registrar and proxy on host:port, its files in `folder`. users: {name:
    password} to require digest authentication, or None for an open registrar (tests only)."""

    def __init__(self, folder, users=None, port=None, host="127.0.0.1"):
        self.folder = folder
        self.users = users
        self.host = host
        self.port = port or free_port(host=host)
        self.proc = None
        self.log_path = os.path.join(folder, "kamailio.log")

    def uri(self):
        return "sip:%s:%d" % (self.host, self.port)

    def _write_config(self):
        os.makedirs(self.folder, exist_ok=True)
        auth_modules = auth_route = ""
        if self.users:
            db = os.path.join(self.folder, "db")
            os.makedirs(db, exist_ok=True)
            with open(os.path.join(db, "version"), "w") as f:
                f.write("table_name(str) table_version(int)\nsubscriber:7\n")
            with open(os.path.join(db, "subscriber"), "w") as f:
                f.write("id(int,auto) username(str) domain(str,null) password(str) "
                        "ha1(str,null) ha1b(str,null)\n")
                for i, (user, password) in enumerate(sorted(self.users.items())):
                    f.write("%d:%s::%s::\n" % (i + 1, user, password))
            auth_modules = _AUTH_MODULES.format(db=db)
            auth_route = _AUTH_ROUTE
        cfg = _KAMAILIO_CFG.format(host=self.host, port=self.port, mpath=_module_path(),
                                   auth_modules=auth_modules, auth_route=auth_route)
        path = os.path.join(self.folder, "kamailio.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        return path

    def start(self):
        cfg = self._write_config()
        run = os.path.join(self.folder, "run")
        os.makedirs(run, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [KAMAILIO, "-f", cfg, "-DD", "-E", "-Y", run, "-m", "32", "-M", "4",
             "-w", self.folder], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + _START_S
        while not answers_options(self.host, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LabError("kamailio did not start: %s" % self.log_tail())
            time.sleep(0.05)

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc)
        self.proc = None


def _module_path():
    for path in glob.glob("/usr/lib/*/kamailio/modules") + ["/usr/lib/kamailio/modules"]:
        if os.path.isdir(path):
            return path
    raise LabError("kamailio's modules folder not found")


def answers_options(host, port):
    """Any SIP response to an OPTIONS sent to host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        me = s.getsockname()[1]
        msg = ("OPTIONS sip:{h}:{p} SIP/2.0\r\n"
               "Via: SIP/2.0/UDP {h}:{me};branch=z9hG4bK-probe{t}\r\n"
               "Max-Forwards: 5\r\nFrom: <sip:probe@{h}>;tag=probe\r\n"
               "To: <sip:{h}:{p}>\r\nCall-ID: probe-{t}@{h}\r\nCSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n").format(h=host, p=port, me=me, t=time.monotonic_ns())
        s.settimeout(0.2)
        try:
            s.sendto(msg.encode(), (host, port))
            return s.recv(2000).startswith(b"SIP/2.0 ")
        except OSError:
            return False


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started it dies, so a bridge
    that crashes or is killed leaves no registrar (with its password files) running."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_process(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Registrar:
    """Registrar mode: Kamailio on sip.bind:sip.port for the phones, with the bridge's own user
    added under a fresh random password. ua_port(): where the bridge's user agent listens."""

    def __init__(self, sc):
        self.sc = sc
        self.password = secrets.token_hex(16)
        self.folder = None
        self.kam = None

    def ua_port(self):
        return self.sc.port + 1

    def registrar_uri(self):
        return "sip:%s:%d" % (self.sc.bind, self.sc.port)

    def ua_config(self):
        """The bridge's user agent's view: a client of this registrar, on the next port."""
        from .sipconfig import SipConfig

        sc = self.sc
        return SipConfig(dict(vars(sc), port=self.ua_port(), registrar=self.registrar_uri(),
                              password=self.password, auth_user=sc.user))

    def start(self):
        if shutil.which(KAMAILIO) is None:
            raise LabError("registrar mode runs Kamailio: apt-get install kamailio")
        self.folder = tempfile.mkdtemp(prefix="portier-registrar-")  # 0700: passwords inside
        users = dict(self.sc.phones)
        users[self.sc.user] = self.password
        self.kam = Kamailio(self.folder, users, port=self.sc.port, host=self.sc.bind)
        self.kam.start()

    def stop(self):
        if self.kam is not None:
            self.kam.stop()
            self.kam = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
