"""The ``dynagate`` command line: a thin layer over the library.

Subcommands, one module each: ``info``, ``spectrum``, ``lyapunov``, ``dmft``, ``fixed-points``,
``complexity``, ``phase-diagram`` and ``validate`` (what they share is in :mod:`._common`). Each imports
JAX, the numerics and matplotlib (Agg) only when it runs, builds an ensemble from ``MODEL`` and ``--set
name=value`` options, writes its figure and data under ``--out`` and prints either a short summary or,
with ``--json``, one JSON object on stdout. User errors (:class:`DynagateError`) are reported as one line
``dynagate: error: ...`` on stderr with exit code 2, as argparse does for bad usage; Ctrl-C as one line
``dynagate: interrupted: ...`` saying what was kept, with exit code 130 (:mod:`._interrupt`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings

from . import _interrupt, complexity, dmft, fixed_points, info, lyapunov, phase_diagram, spectrum, validate
from ._common import MODEL_NAMES, check_out, parse_param, parse_sets

#: The subcommands in the order ``--help`` lists them.
COMMANDS = (info, spectrum, lyapunov, dmft, fixed_points, complexity, phase_diagram, validate)

__all__ = ["COMMANDS", "MODEL_NAMES", "main", "parse_param", "parse_sets"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``dynagate`` command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else 2
    from ..errors import DynagateError

    _interrupt.keep(None)  # nothing is kept yet (a command sets what it has saved as it goes)
    # the program itself (argv from the command line) has Ctrl-C watched: exit 130 within about a second
    with _interrupt.watched() if argv is None else contextlib.nullcontext():
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _warning_line
                if getattr(args, "out", None) is not None:  # every command that writes: checked before work
                    check_out(args.out)
                return args.run(args)
        except DynagateError as e:
            print(f"dynagate: error: {' '.join(str(e).split())}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:
            print(f"dynagate: interrupted: {_interrupt.message(e)}", file=sys.stderr)
            if argv is None:  # the program: out now, without the seconds of tearing down JAX and threads
                _interrupt.exit_now()
            return _interrupt.EXIT


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings in one line, like errors: ``dynagate: warning: ...``."""
    print(f"dynagate: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynagate",
        description="Jacobian spectra, Lyapunov exponents, mean-field theory, fixed points and their "
        "Kac-Rice complexity for gated RNNs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser
