# Portier: door-intercom firmware. This package is the core shared by the board (MicroPython)
# and the host tools (CPython with host_tools/mpshim).
VERSION = "0.1.0"
