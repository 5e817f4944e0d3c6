"""tandemctl's library: the host side of tandem's serial console (tools/tandemctl is the command).

Modules, one concept each:
  errors    what can go wrong, each with its exit status (2 port/answer, 1 refused, 3 schema)
  port      opening a serial device, pseudo-terminal or pyserial URL (socket://, rfc2217://)
  stream    the console's output as rows: backspace redraws rendered, a row at a time
  answers   a command's answer out of its rows: the echo, the JSON line, refusals
  session   one console in tandem's shell: the view switch, commands, the schema check
  commands  what each tandemctl command does with a session
  migrate   `migrate`: waiting for the move to the target, or calling it off
  watch     the live view of a pair
"""

# docs/console-schema.json's "schema" this tandemctl understands; the firmware says its own in
# `version --json` and tandemctl refuses another (it changes only when a field is removed or
# changes meaning).
CONSOLE_SCHEMA = 1
