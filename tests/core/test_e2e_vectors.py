# libsignal's published vectors, reproduced by our Double Ratchet and X3DH:
#  - chain-key / message-key derivation: signalapp/libsignal rust/protocol/src/ratchet/keys.rs
#    (test_chain_key_derivation);
#  - X3DH session set-up in both roles: signalapp/libsignal rust/protocol/tests/ratchet.rs
#    (test_ratcheting_session_as_bob / _as_alice);
#  - a whole first message (X3DH, Alice's sending ratchet step, message keys, AES-CBC, MAC,
#    serialization) and Bob's decryption of it: signalapp/SignalProtocolKit
#    AxolotlKitTests/RatchetingSessionTest.m ("Test with Android Test Vectors").
from coretest import unhex
from portier.e2e.messages import parse_signal_message
from portier.e2e.kdf import chain_step, message_keys
from portier.e2e.x3dh import initiator_state, responder_state
from portier.crypto.x25519 import generate_private


def test_libsignal_chain_key_derivation():
    seed, next_key = chain_step(
        unhex("8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f")
    )
    cipher_key, mac_key, iv = message_keys(seed)
    assert cipher_key == unhex("bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217")
    assert mac_key == unhex("c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b")
    assert next_key == unhex("28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d")
    assert len(iv) == 16


RS_BOB_EPHEMERAL_PUB = "052cb49776b8770205745a3a6e24f579cdb4ba7a89041005928ebbadc9c05ad458"
RS_BOB_EPHEMERAL_PRIV = "a1cab48f7c893fafa9880a28c3b4999d28d6329562d27a4ea4e22e9ff1bdd65a"
RS_BOB_IDENTITY_PUB = "05f1f43874f6966956c2dd473f8fa15adeb71d1cb991b2341692324cefb1c5e626"
RS_BOB_IDENTITY_PRIV = "4875cc69ddf8ea0719ec947d61081135868d5fd801f02c0225e516df2156605e"
RS_ALICE_BASE_PUB = "05472d1fb1a9862c3af6beaca8920277e2b26f4a79213ec7c906aeb35e03cf8950"
RS_ALICE_BASE_PRIV = "11ae7c64d1e61cd596b76a0db5012673391cae66edbfcf073b4da80516a47449"
RS_ALICE_IDENTITY_PUB = "05b4a8455660ada65b401007f615e654041746432e3339c6875149bceefcb42b4a"
RS_ALICE_IDENTITY_PRIV = "9040f0d4e09cf38f6dc7c13779c908c015a1da4fa78737a080eb0a6f4f5f8f58"
RS_BOB_SPK_PUB = "05ac248a8f263be6863576eb0362e28c828f0107a3379d34bab1586bf8c770cd67"
RS_BOB_SPK_PRIV = "583900131fb727998b7803fe6ac22cc591f342e4e42a8c8d5d78194209b8d253"


def test_libsignal_ratcheting_session_as_bob():
    s = responder_state(
        unhex(RS_BOB_IDENTITY_PRIV), unhex(RS_BOB_IDENTITY_PUB), unhex(RS_BOB_SPK_PRIV), None,
        unhex(RS_ALICE_IDENTITY_PUB), unhex(RS_ALICE_BASE_PUB), unhex(RS_BOB_EPHEMERAL_PRIV),
        unhex(RS_BOB_EPHEMERAL_PUB),
    )
    assert s.local_identity == unhex(RS_BOB_IDENTITY_PUB)
    assert s.remote_identity == unhex(RS_ALICE_IDENTITY_PUB)
    assert s.send_chain_key == unhex(
        "9797caca53c989bbe229a40ca7727010eb2604fc14945d77958a0aeda088b44d"
    )


def test_libsignal_ratcheting_session_as_alice():
    s = initiator_state(
        unhex(RS_ALICE_IDENTITY_PRIV), unhex(RS_ALICE_IDENTITY_PUB), unhex(RS_ALICE_BASE_PRIV),
        unhex(RS_ALICE_BASE_PUB), unhex(RS_BOB_IDENTITY_PUB), unhex(RS_BOB_SPK_PUB), None,
        unhex(RS_BOB_EPHEMERAL_PUB), generate_private(),
    )
    assert s.remote_identity == unhex(RS_BOB_IDENTITY_PUB)
    assert len(s.chains) == 1
    assert s.chains[0].their_key == unhex(RS_BOB_EPHEMERAL_PUB)
    assert s.chains[0].chain_key == unhex(
        "ab9be50e5cb22a925446ab90ee5670545f4fd32902459ec274b6ad0ae5d6031a"
    )


AK_ALICE_IDENTITY_PRIV = "5820d92bbf3e7480680194 90c3aa945021faa6d243e48649f66bd6a445991763"
AK_ALICE_IDENTITY_PUB = "056fecdee27f6736a7c6a2779c5adc2635222abb2601cb937ba90fd86e562c761c"
AK_ALICE_BASE_PUB = "057bb26aaf253c7c2ffb9942ed5fda9377f5d23e2595675d6214bb3b40c7beac56"
AK_ALICE_BASE_PRIV = "28d304a2eb00fb63f85e6d4cefc6bf131b5ee562b46bd52ccb528a8461ddc365"
AK_BOB_IDENTITY_PUB = "05016a60fccf33b6f09a1e9b54777842dde6c4f630ae359567b37420cf2d93f145"
AK_BOB_IDENTITY_PRIV = "c8f3a63934cedeee3707ff7971050d583b637dd22115e3fd2b1d41222c292465"
AK_BOB_BASE_PRIV = "70cc770a82747099b7cc05cc69735878413ecfeefe85b5f714ff85368c987052"
AK_BOB_BASE_PUB = "05183a6ec2c74a21f3deb3704c3d3245e0a5d55fdcc99a269d6468a67caeef5912"
AK_ALICE_RATCHET_PRIV = "98040bae6b3d029cf125dc8ed807ce33fce007d82f676d7bc71a5b913b603b67"
AK_ALICE_RATCHET_PUB = "05b62ae025b8ffee3aeb011bf778e6262256173 07a95879131d99d274906ee576a"
AK_PLAINTEXT = b"This is a plaintext message."
AK_MESSAGE = """
330a2105b62ae025b8ffee3aeb011bf778e626225617307a95879131d99d274906ee576a
100018002220 9ef2d0e1304c01e0687b445a27647951d4c70bf3d3ac23a58df722dc2276c3a6
9606abbe2e316388"""


def _alice():
    return initiator_state(
        unhex(AK_ALICE_IDENTITY_PRIV), unhex(AK_ALICE_IDENTITY_PUB), unhex(AK_ALICE_BASE_PRIV),
        unhex(AK_ALICE_BASE_PUB), unhex(AK_BOB_IDENTITY_PUB), unhex(AK_BOB_BASE_PUB), None,
        unhex(AK_BOB_BASE_PUB), unhex(AK_ALICE_RATCHET_PRIV),
    )


def test_android_vectors_alice_session_and_first_message():
    s = _alice()
    assert s.send_public == unhex(AK_ALICE_RATCHET_PUB)
    assert s.root_key == unhex("c35af181b0bfeab5d9711220c160d643f6e81c0011bfa1aa16aef36a91cd1a9b")
    assert s.send_chain_key == unhex(
        "8aa205ea1700c085b643e9684f6a537488bd9f3ea01d00f95855e18fab9fbe51"
    )
    cipher_key, mac_key, iv = message_keys(chain_step(s.send_chain_key)[0])
    assert cipher_key == unhex("dd610eee8f33022563488aede094ab6c72af3969f7cfa65f095fee59c4eae73d")
    assert iv == unhex("f3f0255843da3a816c78d765cebdba0b")
    assert mac_key == unhex("acc6304dc0cc20e58fcea460dac167554e89a9b25ebda5a3babe15cf8b71e79a")
    enc_type, data = s.encrypt(AK_PLAINTEXT)
    assert enc_type == "msg"
    assert data == unhex(AK_MESSAGE)


def test_android_vectors_bob_decrypts():
    s = responder_state(
        unhex(AK_BOB_IDENTITY_PRIV), unhex(AK_BOB_IDENTITY_PUB), unhex(AK_BOB_BASE_PRIV), None,
        unhex(AK_ALICE_IDENTITY_PUB), unhex(AK_ALICE_BASE_PUB), unhex(AK_BOB_BASE_PRIV),
        unhex(AK_BOB_BASE_PUB),
    )
    assert s.root_key == unhex("89f9576037c1076c192211fb2261e4c444585144c28c1c6e7c48b691269bf2e6")
    msg = parse_signal_message(unhex(AK_MESSAGE))
    assert msg.counter == 0 and msg.previous_counter == 0
    assert s.decrypt(msg) == AK_PLAINTEXT
