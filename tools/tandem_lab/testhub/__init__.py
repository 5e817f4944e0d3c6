"""The fault-injecting test hub (README.md): faults (settings and the per-delivery decision), hub
(the hub itself; its command line is tandem_lab.cli.testhub), process (TestHub: the hub as a
subprocess of the harness), endpoint (an emulated Bochs NIC for tests), pxe (a real Bochs NIC
booting iPXE on the hub)."""

from tandem_lab.testhub.process import HubError, TestHub

__all__ = ["HubError", "TestHub"]
