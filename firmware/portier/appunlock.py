# The door's unlock part (docs/protocol.md section 10), made by the door's part of the App
# (portier.doorpart) at the first <unlock>: the call engine's "unlock" event (its verdict on an
# <unlock>: who may ask, and when) -> portier.unlock.Unlocker -> the strike (hal.open_door), the
# door log and an <unlock_result> reply. (A phone's side, the "unlock PIN" command, is
# portier.phonepart's.) Imported on first use, so a door that never hears an unlock never loads
# it.
import time

from portier import appmem
from portier import unlock as ul


class DoorUnlock:
    """The door's unlock state for the life of the app: the checks and the PIN verifier (made
    at the first <unlock>). What an unlock needs only for a moment is not kept (an unlock comes
    mid-call, on top of the media stack): the Signal store is made per use, so the Signal code
    the decryption loads goes again right after it (App.shed(UNLOCKED)), the secrets module is read once
    and dropped, and the door log is loaded for each entry (_log_entry), not held with all its
    entries."""

    def __init__(self, app):
        self.app = app
        self.unlocker = None  # portier.unlock.Unlocker, made at the first <unlock>

    def _make_unlocker(self, now_ms):
        from portier import secrets

        app = self.app
        cfg = app.cfg
        salt = verifier = None
        try:
            s = secrets.load(cfg.secrets_path)
            salt, verifier = s.pin_salt, s.pin_hmac
        except ValueError as e:  # never the file's content: SecretsError names the field only
            app.log("E", "door", "secrets unreadable: unlock off", error=str(e))
        # A corrupt state file raises here: unlock stays refused (fail closed) rather than
        # forgetting counters and failures.
        return ul.Unlocker(lambda: app.store, cfg.unlock_state, salt, verifier, now_ms)

    async def on_unlock(self, ev):
        """The engine's "unlock" event: an <unlock> it has acked, with its verdict on who may
        ask and when (ev.reason: None when admitted)."""
        app = self.app
        now = time.ticks_ms()
        d = self._decide(ev, now)
        opened = d.result == ul.OPENED
        if opened:
            app.hal.open_door(app.cfg.unlock_pulse_ms, now)
        fields = {"peer": d.device, "call_id": d.call_id, "result": d.result, "reason": d.reason,
                  "retry_after": d.retry_after_s}
        app.log("I" if opened else "W", "door", "unlocked" if opened else "unlock refused",
                **fields)
        if self.unlocker is not None:
            app.shed(appmem.UNLOCKED)  # the decision is made and stored: its code goes
            self._log_entry(now, opened, fields)
        if d.device is None:
            return
        from portier.signaling import stanzas as st
        from portier.signaling.engine import new_id  # loaded with the App; not at this import

        msg = ev.stanza
        reply = st.Stanza("unlock_result", call_id=msg.call_id, call_creator=msg.call_creator,
                          result=d.result, reason=None if opened else d.reason,
                          retry_after_s=d.retry_after_s, to=d.device, stanza_id=new_id())
        await app.link.send(reply.to_node())

    def _decide(self, ev, now):
        """The Unlocker's decision, committed; any failure to check or to persist refuses."""
        app = self.app
        if not app.hal.has_strike:
            return ul.Decision(ul.REFUSED, "no_strike", ev.peer, ev.call_id)
        try:
            if self.unlocker is None:
                self.unlocker = self._make_unlocker(now)
            unlocker = self.unlocker
            d = unlocker.decide(ev, now)
            unlocker.commit(d, now)  # before the door opens: a replay must meet the new counter
            return d
        except (OSError, ValueError) as e:
            app.log("E", "door", "unlock state", error=str(e))
            return ul.Decision(ul.REFUSED, "state_error", ev.peer, ev.call_id)

    def _log_entry(self, now, opened, fields):
        """One door log entry; the log (portier.doorlog over portier.jsonlog) is loaded for it
        and dropped after, as the call log is."""
        self._write_log_entry(now, opened, fields)  # its locals (the log, its class) end here
        self.app.shed(appmem.DOOR_LOGGED)

    def _write_log_entry(self, now, opened, fields):
        from portier.doorlog import UNLOCK_REFUSED, UNLOCKED, DoorLog

        app = self.app
        cfg = app.cfg
        log = DoorLog(cfg.door_log, cfg.door_log_max)
        try:
            log.load()
        except ValueError as e:  # a corrupt log must not keep the door shut: start afresh
            app.log("W", "door", "door log unreadable", error=str(e))
        try:
            log.add(app.link.wall_time(now), UNLOCKED if opened else UNLOCK_REFUSED, **fields)
        except (OSError, ValueError) as e:
            app.log("E", "door", "door log not written", error=str(e))

