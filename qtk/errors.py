"""Errors the core raises; the CLI turns each into one line on stderr and an exit code."""


class QtkError(Exception):
    """A failure the user can act on (bad file, failed check). Exit code 1."""

    exit_code = 1


class UsageError(QtkError):
    """Bad options, config keys or values. Exit code 2."""

    exit_code = 2


class Interrupted(QtkError):
    """Ctrl-C after the work in hand was saved. Exit code 130."""

    exit_code = 130


class Preempted(QtkError):
    """SIGTERM / SIGUSR1 (a cluster's preemption notice) after a checkpoint was saved. Exit code
    143, the shell's code for a process ended by SIGTERM, so schedulers see the usual status."""

    exit_code = 143
