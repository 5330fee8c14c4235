# Only the answerer hears the answered call (docs/protocol.md 4, 9): the caller wraps a call
# key of its own to each rung device, and the answerer's keys the call's media. A rung device
# that did not answer holds a key that opens nothing of the answered call.
from enginenet import FakeKeys, Net, only, ring
from portier.signaling.engine import CallEngine

DOOR = "door:1@home"
ANNA, BEN, CLEO = "anna:1@home", "ben:1@home", "cleo:1@home"


def _setup():
    door = CallEngine(DOOR, FakeKeys(DOOR))
    phones = [CallEngine(p, FakeKeys(p)) for p in (ANNA, BEN, CLEO)]
    return door, phones, Net([door] + phones)


def _offered_keys(log):
    """device -> the key its <enc> carries (FakeKeys: 'device|key', readable here)."""
    out = {}
    for sender, receiver, msg in log:
        if msg.action == "offer" and msg.enc is not None:  # as fanned out, one <enc> each
            out[receiver] = bytes(msg.enc.ciphertext).partition(b"|")[2]
    return out


def test_each_rung_device_gets_its_own_key_and_the_answerers_keys_the_call():
    door, (anna, ben, cleo), net = _setup()
    log = []
    net.drop = lambda s, r, m: log.append((s, r, m)) and False
    call_id = ring(door, [anna, ben, cleo], net)
    keys = _offered_keys(log)
    assert sorted(keys) == [ANNA, BEN, CLEO] and len(set(keys.values())) == 3
    assert all(len(k) == 32 for k in keys.values())
    ben.answer(call_id, 2000)
    net.pump(2000)
    d_media = only(door.events(), "media")
    b_media = only(ben.events(), "media")
    assert d_media.call_key == b_media.call_key == keys[BEN]
    assert d_media.call_key not in (keys[ANNA], keys[CLEO])
    assert anna.keys.unwrapped == 0 and cleo.keys.unwrapped == 0  # never opened theirs


def test_a_call_to_the_door_is_keyed_by_the_doors_own_key():
    door, (anna, _b, _c), net = _setup()
    log = []
    net.drop = lambda s, r, m: log.append((s, r, m)) and False
    door.auto_answer = (ANNA,)
    call_id = anna.place_call("household@home", [DOOR], 1000)
    net.pump(1000)
    offer = [m for s, r, m in log if r == DOOR and m.action == "offer"][0]
    key = bytes(offer.enc.ciphertext).partition(b"|")[2]
    assert only(door.events(), "media").call_key == key == only(anna.events(), "media").call_key
    assert call_id
