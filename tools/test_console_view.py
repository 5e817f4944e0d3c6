#!/usr/bin/env python3
"""tandem_lab's console_view: the serial console as written on the line (guest bytes raw, tandem's
lines marked "|tandem| " in the guest's view, unmarked in tandem's shell) back to the prefixed text
the e2e patterns read ("guest: ..." lines, tandem's bare). No emulator.

Run: python3 tools/test_console_view.py (CTest: tools.console_view)."""

from __future__ import annotations

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tandem_lab.console_patterns import BANNER, BANNER_START  # noqa: E402
from tandem_lab.console_view import GUEST_LINE, SHELL_LINE, clean_console, prefixed_text  # noqa: E402

TO_SHELL = f"|tandem| {SHELL_LINE}\r\n"
TO_GUEST = f"|tandem| {GUEST_LINE}\r\n"


def clean(wire: str) -> str:
    return clean_console(wire.encode())


class BootLoaderAndTandem(unittest.TestCase):
    def test_grub_text_before_tandem_is_left_as_is(self):
        wire = ("\x1b[2J\x1b[1;1HGNU GRUB  version 2.06\r\n  Booting `tandem'\r\n"
                "|tandem|\r\n|tandem| tandem 0.9.0 (build de:ad:be:ef:00:11:22:33) - bare-metal\r\n")
        self.assertEqual(clean(wire), "GNU GRUB  version 2.06\n  Booting `tandem'\n\n"
                                      "tandem 0.9.0 (build de:ad:be:ef:00:11:22:33) - bare-metal\n")

    def test_the_banner_is_found_after_grubs_unfinished_row(self):
        # tandem's first (empty) line may land on the row GRUB left unfinished.
        text = clean("\x1b[0mBooting `tandem'|tandem|\r\n|tandem| tandem 0.9.0 (build de:ad:be:ef:00:11:22:33) "
                     "- bare-metal\r\n")
        at = text.find(BANNER_START)  # where EmulatorRun.tandem_console() cuts
        self.assertGreaterEqual(at, 0)
        self.assertRegex(text[at + 1:], BANNER)

    def test_marked_lines_lose_the_marker_and_one_space(self):
        self.assertEqual(clean("|tandem| pair: PROTECTED\r\n|tandem|  two spaces\r\n"),
                         "pair: PROTECTED\n two spaces\n")

    def test_an_empty_marked_line(self):
        self.assertEqual(clean("|tandem| a\r\n|tandem|\r\n|tandem| b\r\n"), "a\n\nb\n")


class GuestLines(unittest.TestCase):
    def test_unmarked_lines_after_tandem_spoke_are_the_guests(self):
        self.assertEqual(clean("|tandem| tandem: boot complete\r\nhello\r\nworld\n"),
                         "tandem: boot complete\nguest: hello\nguest: world\n")

    def test_a_guest_line_beginning_with_a_bar_loses_its_escaping_space(self):
        self.assertEqual(clean("|tandem| x\r\n |tandem| forged\r\n ||\r\n  |two\r\n"),
                         "x\nguest: |tandem| forged\nguest: ||\nguest:   |two\n")

    def test_an_empty_guest_line(self):
        self.assertEqual(clean("|tandem| x\r\nup\r\n\r\ndown\r\n"), "x\nguest: up\nguest: \nguest: down\n")

    def test_a_guest_line_tandem_interrupted(self):
        # tandem ends the guest's unfinished row before its own line; the guest goes on below.
        self.assertEqual(clean("|tandem| x\r\nlog\r\n|tandem| pair: y\r\nin: \r\n"),
                         "x\nguest: log\npair: y\nguest: in: \n")

    def test_terminal_escapes_in_the_guests_output(self):
        self.assertEqual(clean("|tandem| x\r\n\x1b[1;32mOK\x1b[0m started\r\n\x1b(B\x1b[?25lmore\n"),
                         "x\nguest: OK started\nguest: more\n")

    def test_bad_utf8_is_replaced(self):
        self.assertEqual(clean_console(b"|tandem| x\r\nab\xffc\r\n"), "x\nguest: ab\ufffdc\n")


class ShellView(unittest.TestCase):
    def test_into_the_shell_and_out(self):
        wire = ("|tandem| tandem: console ready\r\nlogin: " + "\r\n" + TO_SHELL
                + "tandem> status\r\nstatus: primary, protecting\r\nguest (hypercall): tick\r\npair: z\r\n"
                + "tandem> " + "\r\n" + TO_GUEST + "held line\r\n")
        self.assertEqual(clean(wire).split("\n"), [
            "tandem: console ready", "guest: login: ", SHELL_LINE,
            "tandem> status", "status: primary, protecting", "guest (hypercall): tick", "pair: z", "tandem> ",
            GUEST_LINE, "guest: held line", ""])

    def test_the_way_back_is_written_in_the_shell_unmarked(self):
        # tandem writes GUEST_LINE while the shell is still shown: unmarked; the guest's held
        # output follows it.
        wire = TO_SHELL + "tandem> \r\n" + GUEST_LINE + "\r\nheld\r\n" + f"{GUEST_LINE}\r\n"
        self.assertEqual(clean(wire).split("\n"), [
            SHELL_LINE, "tandem> ", GUEST_LINE, "guest: held", f"guest: {GUEST_LINE}", ""])

    def test_a_marked_line_in_the_shell_still_loses_its_marker(self):
        self.assertEqual(clean(TO_SHELL + "|tandem| a\r\nb\r\n"), f"{SHELL_LINE}\na\nb\n")

    def test_only_a_whole_switch_line_switches(self):
        wire = f"|tandem| x: {SHELL_LINE}\r\n |tandem| {SHELL_LINE}\r\n{SHELL_LINE}\r\nline\r\n"
        self.assertEqual(clean(wire).split("\n"), [
            f"x: {SHELL_LINE}", f"guest: |tandem| {SHELL_LINE}", f"guest: {SHELL_LINE}", "guest: line", ""])

    def test_a_shell_at_boot_leaves_grubs_text_alone_too(self):
        self.assertEqual(clean("GRUB\r\n" + TO_SHELL + "tandem> "), f"GRUB\n{SHELL_LINE}\ntandem> ")


class UnfinishedLastLine(unittest.TestCase):
    def test_the_guests_unfinished_line(self):
        self.assertEqual(clean("|tandem| x\r\nlogin: "), "x\nguest: login: ")

    def test_tandems_unfinished_line(self):
        self.assertEqual(clean("|tandem| x\r\n|tandem| pair: PROT"), "x\npair: PROT")
        self.assertEqual(clean("|tandem| x\r\n|tandem|"), "x\n")

    def test_a_marker_still_arriving_is_not_the_guests(self):
        self.assertEqual(clean("|tandem| x\r\n|tan"), "x\n|tan")

    def test_a_finished_text_gains_no_line(self):
        self.assertEqual(clean("|tandem| x\r\n"), "x\n")
        self.assertEqual(clean(""), "")

    def test_the_prompt_in_the_shell(self):
        self.assertEqual(prefixed_text(f"|tandem| {SHELL_LINE}\ntandem> sta"), f"{SHELL_LINE}\ntandem> sta")


if __name__ == "__main__":
    unittest.main()
