# Call signalling: stanza builders and parsers, the sans-IO call engine, the call log.
