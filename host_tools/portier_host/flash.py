"""`portier flash`: erase the chip, write the MicroPython image at the board's offset, deploy.

esptool v5 command names (hyphenated `erase-flash`, `write-flash`; the executable is `esptool`).
The image offset comes from the board file, which boards.py has checked against the chip
(ESP32 0x1000, ESP32-S3 0x0).
"""

import html.parser
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request

DOWNLOAD_BASE = "https://micropython.org/download/"
FLASH_BAUD = 460800
_DOWNLOAD_TIMEOUT_S = 10
_MAX_IMAGE_BYTES = 16 * 1024 * 1024


class FlashError(RuntimeError):
    pass


def esptool_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "esptool")
    return exe if os.path.exists(exe) else "esptool"


def esptool_commands(board, port, firmware, baud=FLASH_BAUD):
    """The two esptool runs: erase the whole flash, then write the image at the board's offset."""
    base = [esptool_exe(), "--chip", board.chip.esptool_chip, "--port", port, "--baud", str(baud)]
    return [
        base + ["erase-flash"],
        base + ["write-flash", "0x%x" % board.flash_offset, firmware],
    ]


def format_command(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def check_image(board, firmware):
    """Refuse a missing file or an image that is plainly not for this chip."""
    if not os.path.isfile(firmware):
        raise FlashError("firmware file %s not found; %s" % (firmware, download_hint(board)))
    size = os.path.getsize(firmware)
    if size == 0 or size > _MAX_IMAGE_BYTES:
        raise FlashError("firmware file %s has %d bytes: not a MicroPython image" % (firmware, size))
    with open(firmware, "rb") as f:
        magic = f.read(1)
    # An ESP image starts with 0xE9. A bootloader+app image written at the chip's offset does
    # too; anything else (a .uf2, an .elf, an HTML error page) would brick nothing but boot nothing.
    if magic != b"\xe9":
        raise FlashError("%s does not start with the ESP image magic byte 0xE9; get the .bin "
                         "from %s" % (firmware, download_page(board)))


def download_page(board):
    return DOWNLOAD_BASE + board.mp_board + "/"


def download_hint(board):
    variant = " (variant %s)" % board.mp_variant if board.mp_variant else ""
    return ("get the official MicroPython build for %s%s, a file named like %s-YYYYMMDD-v1.xx.x.bin "
            "(MicroPython %s or newer), from %s"
            % (board.mp_board, variant, board.firmware_name, board.data["micropython"]["min_version"],
               download_page(board)))


class _LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value:
                    self.links.append(value)


def pick_release(board, page_html):
    """The newest stable .bin link for the board's build on a download page, or None.

    Official names: BOARD[-VARIANT]-YYYYMMDD-vX.Y.Z.bin for releases; previews carry
    "-preview." and are skipped.
    """
    parser = _LinkParser()
    parser.feed(page_html)
    pattern = re.compile(r"(?:^|/)%s-(\d{8})-v(\d+)\.(\d+)\.(\d+)\.bin$" % re.escape(board.firmware_name))
    best = None
    for link in parser.links:
        m = pattern.search(link)
        if not m:
            continue
        key = (int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(1))
        if best is None or key > best[0]:
            best = (key, link)
    return None if best is None else best[1]


def download(board, dest_dir, base=DOWNLOAD_BASE, opener=urllib.request.urlopen):
    """Fetch the newest official image into dest_dir; FlashError with the manual steps if offline."""
    page = base + board.mp_board + "/"
    try:
        with opener(page, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
            text = resp.read(2 * 1024 * 1024).decode("utf-8", "replace")
        link = pick_release(board, text)
        if link is None:
            raise FlashError("no %s release on %s; %s" % (board.firmware_name, page, download_hint(board)))
        url = urllib.request.urljoin(page, link)
        dest = os.path.join(dest_dir, url.rsplit("/", 1)[1])
        with opener(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
            data = resp.read(_MAX_IMAGE_BYTES + 1)
    except (urllib.error.URLError, OSError) as e:
        raise FlashError("cannot download (%s): no internet here?\nInstead %s, then run "
                         "portier flash --firmware FILE.bin" % (e, download_hint(board))) from None
    if len(data) > _MAX_IMAGE_BYTES:
        raise FlashError("%s is larger than %d bytes" % (url, _MAX_IMAGE_BYTES))
    tmp = dest + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, dest)
    return dest


def run_esptool(commands, out=None):
    out = sys.stdout if out is None else out
    for cmd in commands:
        print("$ " + format_command(cmd), file=out, flush=True)
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            raise FlashError("esptool failed (exit %d): %s" % (proc.returncode, format_command(cmd)))
