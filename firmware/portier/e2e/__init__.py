# End-to-end layer: Signal protocol (libsignal v3 wire format) sessions that wrap and unwrap the
# call key. Every failure in this package is an E2eError (a ValueError), raised before any store
# is written.


class E2eError(ValueError):
    pass
