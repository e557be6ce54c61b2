"""``dynagate validate``: the command-line face of :mod:`dynagate.validate`."""

from __future__ import annotations

import sys

from ._common import print_json


def add_parser(sub) -> None:
    from ..validate import CHECKS

    p = sub.add_parser(
        "validate",
        help="theory-against-simulation checks of the whole toolkit, as a report",
        description="Runs the toolkit's validation checks (each a prediction against an independent "
        "computation, with a tolerance) and writes report.md (a pass/fail table with the numbers) and its "
        f"figures under --out. Checks: {', '.join(CHECKS)}. Exit code 1 if any check fails.",
    )
    p.add_argument("--quick", action="store_true", help="small networks and short runs (a few minutes)")
    p.add_argument("--only", default=None, metavar="NAME,...", help="run only these checks")
    p.add_argument("--out", default="out/validate", help="output folder (default out/validate)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the rows")
    p.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    from ..validate import run_checks, write_report

    only = None if args.only is None else [s.strip() for s in args.only.split(",") if s.strip()]
    if only == []:
        from ..errors import InputError

        raise InputError(f"--only {args.only!r} names no check; give names separated by commas")
    say = (lambda name: None) if args.json else (lambda name: print(f"  running {name} ...", file=sys.stderr))
    rows = run_checks(args.out, quick=args.quick, only=only, progress=say)
    path = write_report(rows, args.out, quick=args.quick)
    if args.json:
        out = {"report": str(path), "checks": [dataclasses.asdict(r) for r in rows]}
        print_json(out)
    else:
        for r in rows:
            mark = "pass" if r.passed else "FAIL"
            print(f"  {mark}  {r.name:<16} expected {r.expected}; measured {r.measured}")
        print(f"  {sum(r.passed for r in rows)} of {len(rows)} passed; wrote {path}")
    return 0 if all(r.passed for r in rows) else 1
