# End-to-end layer: Signal protocol (libsignal v3 wire format) sessions that wrap and unwrap the
# call key. Every failure in this package is an E2eError (a ValueError), raised before any store
# is written.


class E2eError(ValueError):
    pass


# What the app holds of this package through a call is only this module: the rest (the store
# too) is imported per use, so the app can drop it at quiet moments (portier.appmem).


def file_store(root):
    """The FileStore over root: a view of files with no state of its own, made per use."""
    from .stores import FileStore

    return FileStore(root)


class CallKeys:
    """The call engine's call-key wrapping (keys.wrap / keys.unwrap), bound to this device's
    Signal store folder."""

    def __init__(self, store_root):
        self.store_root = store_root

    def wrap(self, device, call_key):
        from . import callkey

        return callkey.wrap(file_store(self.store_root), device, call_key)

    def unwrap(self, device, enc_type, ciphertext):
        from . import callkey

        return callkey.unwrap(file_store(self.store_root), device, enc_type, ciphertext)
