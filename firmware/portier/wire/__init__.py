# Wire format: Node model, compact binary stanza codec, token dictionary, stream framing.
