# Crypto primitives lean enough for a board: HKDF, HMAC, AES-CM over cryptolib ECB, X25519.
