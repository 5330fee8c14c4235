"""Portier host tools: flashing, provisioning, switchboard, relay, phone and simulator."""

__version__ = "0.1.0"
