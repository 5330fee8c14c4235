# Board interfaces: esp32 (machine.I2S/Pin/WLAN) and virtual (files, sockets) for host runs.
