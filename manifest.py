# Freezes Portier into a MicroPython firmware image (docs/frozen.md has the build commands):
#
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/portier/manifest.py
#
# Frozen modules run from flash: their bytecode, constants and names take no heap, which is
# what lets a board without PSRAM hold the whole app (bench/report.md, "Footprint"). The port's
# own frozen modules (asyncio, network helpers, ...) come first, then the portier package;
# mpy-cross compiles the viper modules for the port's architecture. main.py is not frozen:
# `portier deploy` keeps it, the config and the secrets on the board's filesystem.
# For the unix port, include "$(PORT_DIR)/variants/manifest.py" instead of the boards' one.
include("$(PORT_DIR)/boards/manifest.py")
package("portier", base_path="firmware")
