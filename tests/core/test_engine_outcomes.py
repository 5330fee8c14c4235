# The call log and the call engine speak of a call's end with the same words: every outcome the
# engine's rulebook can end a call with, for a call placed here or one that rang here, is one
# the call log takes, and the log takes no other (an event the log refused would be an
# exception at the edge for every such call).
from portier.signaling import calllog, engine
from portier.signaling.calllog import CallLog


def test_the_log_takes_every_outcome_the_engine_can_end_a_call_with_and_no_other():
    # From the engine's rulebook: each ending reachable from a caller's or a callee's state.
    made = engine.outcomes()
    assert len(made) > 20 and ("in", "answered_elsewhere") in made and ("out", "unanswered") in made
    log = CallLog(max_entries=100)
    for direction, outcome in made:
        log.add(direction, "anna:2@home", outcome, None, 1, 0)  # raises if the log refused it
    # the app logs two outcomes of its own: a press without a link (failed), a door's notice
    # of a ring it could not place (missed); both are the engine's too
    assert ("out", "failed") in made and ("in", "missed") in made
    assert sorted(set(o for d, o in made if d == "out")) == sorted(calllog.OUTGOING)
    assert sorted(set(o for d, o in made if d == "in")) == sorted(calllog.INCOMING)
