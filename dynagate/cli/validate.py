"""``dynagate validate``: the command-line face of :mod:`dynagate.validate`."""

from __future__ import annotations

import sys

from . import _interrupt
from ._common import check_limits, print_json


def add_parser(sub) -> None:
    from ..validate import CHECKS

    p = sub.add_parser(
        "validate",
        help="theory-against-simulation checks of the whole toolkit, as a report",
        description="Runs the toolkit's validation checks (each a prediction against an independent "
        "computation, with a tolerance) and writes report.md (a pass/fail table with the numbers) and its "
        f"figures under --out. Checks: {', '.join(CHECKS)}. Exit code 1 if any check fails. The report is "
        "written after each check: Ctrl-C keeps the finished ones (marked incomplete).",
    )
    p.add_argument("--quick", action="store_true", help="small networks and short runs (a few minutes)")
    p.add_argument("--only", default=None, metavar="NAME,...", help="run only these checks")
    p.add_argument("--out", default="out/validate", help="output folder (default out/validate)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the rows")
    p.add_argument(
        "--max-memory",
        default=None,
        metavar="SIZE",
        help="refuse checks estimated to need more memory, e.g. 64G (default: 3/4 of the RAM)",
    )
    p.add_argument(
        "--max-time",
        default=None,
        metavar="DURATION",
        help="refuse checks estimated to take longer, e.g. 2d (default 24h; the estimate is "
        "conservative: --quick is estimated at about 2 h and the full run at about 1.5 days)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from ..errors import InputError, Interrupted
    from ..validate import check_names, estimate, run_checks, write_report

    only = None if args.only is None else [s.strip() for s in args.only.split(",") if s.strip()]
    if only == []:
        raise InputError(f"--only {args.only!r} names no check; give names separated by commas")
    names = check_names(only)
    check_limits(args, estimate(args.quick, names))

    def finished(rows):  # the report so far, after each check (Ctrl-C inside a long step keeps it)
        if len(rows) < len(names):
            path = write_report(rows, args.out, quick=args.quick, not_run=names[len(rows) :])
            _interrupt.keep(_kept(args, rows, names, path))

    say = (lambda name: None) if args.json else (lambda name: print(f"  running {name} ...", file=sys.stderr))
    try:
        rows = run_checks(args.out, quick=args.quick, only=names, progress=say, finished=finished)
    except Interrupted as e:
        rows = e.partial
        if not rows:
            raise Interrupted(f"{e}; nothing was saved; run the command again") from None
        if len(rows) < len(names):
            path = write_report(rows, args.out, quick=args.quick, not_run=names[len(rows) :])
            if args.json:
                print_json(_json(path, rows, names))
            raise Interrupted(_kept(args, rows, names, path)) from None
    path = write_report(rows, args.out, quick=args.quick)
    if args.json:
        print_json(_json(path, rows, names))
    else:
        for r in rows:
            mark = "pass" if r.passed else "FAIL"
            print(f"  {mark}  {r.name:<16} expected {r.expected}; measured {r.measured}")
        print(f"  {sum(r.passed for r in rows)} of {len(rows)} passed; wrote {path}")
    return 0 if all(r.passed for r in rows) else 1


def _json(path, rows, names) -> dict:
    import dataclasses

    rest = names[len(rows) :]
    checks = [dataclasses.asdict(r) for r in rows]
    return {"report": str(path), "checks": checks, "interrupted": bool(rest), "not_run": rest}


def _kept(args, rows, names, path) -> str:
    """The Ctrl-C line once ``rows`` are reported in ``path``: what, where, and the command for the rest."""
    rest = names[len(rows) :]
    quick = " --quick" if args.quick else ""
    return (f"validate: {len(rows)} of {len(names)} checks finished ({sum(r.passed for r in rows)} passed), "
            f"reported in {path} (marked incomplete; not run: {', '.join(rest)}); for the others, run "
            f"dynagate validate{quick} --only {','.join(rest)} with another --out")  # fmt: skip
