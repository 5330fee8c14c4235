"""`portier bridge`: a household device that answers the door on SIP phones (docs/sip.md).

    rules.py     the call semantics between the household call and the SIP legs (sans-IO)
    pin.py       `*` PIN `#` from DTMF digits, and the result tones (sans-IO)
    sipconfig.py the bridge's "sip" config block
    sipua.py     the SIP user agent: PJSIP through its pjsua2 bindings (the only SIP code)
    audio.py     the App's audio device, fed by and feeding the SIP leg's media port
    app.py       portier.app.App composed with the above; `portier bridge --config`
    provision.py `portier provision --bridge`
    lab.py       Kamailio and baresip on loopback, for the tests and the benchmark
"""
