"""tandemctl's failures. Each carries its exit status and a one-line message (printed after
"tandemctl: "), so scripts can tell a console they could not use (2) from a command tandem
refused (1) and from a firmware of another console schema (3)."""


class TandemctlError(Exception):
    """Exit status 2: the port, the connection or the answer was not what tandemctl needs."""

    exit_status = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PortMissing(TandemctlError):
    """The device path does not exist."""


class PortBusy(TandemctlError):
    """Another program holds the console (an exclusive lock, or the lab relay's one client)."""


class NoAnswer(TandemctlError):
    """tandem did not say what it always says within the timeout."""


class ConnectionLost(TandemctlError):
    """The device or the console server went away."""


class BadAnswer(TandemctlError):
    """An answer without the JSON line the command promises, or JSON of the wrong kind."""


class Refused(TandemctlError):
    """Exit status 1: tandem's shell refused the command; the message carries tandem's line."""

    exit_status = 1

    def __init__(self, message: str, row: str = ""):
        super().__init__(message)
        self.row = row  # tandem's own words


class SchemaMismatch(TandemctlError):
    """Exit status 3: the firmware speaks another console schema than this tandemctl."""

    exit_status = 3
