"""What the subcommands share: MODEL and ``--set`` options, the network they describe, ``--out`` and
``--json``, writing the figure and data, and a progress line for long work.

Imports of JAX and the numerics stay inside the functions, so that building the parser (``--help``)
imports neither.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

#: The keys of ``dynagate.models.MODELS`` (listed here so that ``--help`` needs no JAX import; a test
#: checks that the two agree).
MODEL_NAMES = ("vanilla", "gated", "gru", "lstm")

SET_HELP = (
    "set a hyperparameter or option, NAME=VALUE (repeatable); floats for hyperparameters, and "
    "n_in=INT, reset=after|before, refine|tied_input=true|false, "
    "forget_init|update_init=ugi|ugi:D|chrono:TMAX|none"
)

#: The most values one --param, --x or --y may have.
MAX_NUM = 1_000_000

#: ``dynagate fixed-points`` and ``complexity --count-sizes``: seeds of the fixed-point search per network.
DEFAULT_SEEDS = 512


def sets_text(args, sep: str = ", ") -> str:
    """The --set assignments for a figure title ("" without any), after ``sep``."""
    return sep + ", ".join(s.strip() for s in args.sets) if args.sets else ""


def check_out(out) -> None:
    """Refuse an unusable ``--out`` before any work: it must be a writable folder, or a path whose nearest
    existing parent is a writable folder (it is created when the results are written, not here)."""
    import os

    from ..errors import InputError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"--out {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        where = "" if parent == path else f" ({parent} is not writable)"
        raise InputError(f"--out {out}: cannot write there{where}")


def save(args, name: str, fig, ds, result: dict):
    """Write ``fig`` as NAME.png and ``ds`` as NAME.nc under --out, list them in ``result["files"]``.
    The figure is a bare ``matplotlib.figure.Figure`` (not registered with pyplot: nothing to close);
    ``fig=None`` writes the data alone (png is then None) and removes an earlier run's NAME.png, which would
    not show this data."""
    from ..io import save_dataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png, nc = out / f"{name}.png", out / f"{name}.nc"
    if fig is None:
        png.unlink(missing_ok=True)
        png = None
    else:
        fig.savefig(png, dpi=150)
    save_dataset(ds, nc)
    result["files"] = [str(f) for f in (png, nc) if f is not None]
    return png, nc


def warm_saving() -> None:
    """Import in the background what the first ``xarray.Dataset`` and NetCDF write import (about a second
    of imports), so that results saved right after Ctrl-C are written at once."""
    import threading

    def warm():
        import numpy as np
        import xarray as xr

        xr.Dataset({"a": ("i", np.zeros(1))}).to_netcdf(engine="scipy")

    threading.Thread(target=warm, name="dynagate-warm", daemon=True).start()


class busy:
    """A one-line "working..." spinner with the elapsed time on stderr, only when stderr is a terminal.

    For work that reports no progress of its own (one compiled call); the line is removed at the end.
    """

    def __init__(self, message: str, *, enabled: bool = True):
        self.message = message
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = self._thread = self._stop = None

    def __enter__(self):
        if self.enabled:
            import threading

            from tqdm import tqdm

            self._bar = tqdm(
                desc=self.message, bar_format="{desc} ... {elapsed}{postfix}", leave=False, file=sys.stderr
            )
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def note(self, text: str) -> None:
        """Show ``text`` after the elapsed time (e.g. how far the work is)."""
        if self.enabled:
            self._bar.set_postfix_str(text, refresh=False)

    def _tick(self):
        while not self._stop.wait(0.5):
            self._bar.refresh()

    def __exit__(self, *exc):
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self._bar.close()
        return False


def network_args(p, *, n: int) -> None:
    """MODEL, --set, --n and --seed: what every network subcommand takes (read by :func:`network_from`)."""
    p.add_argument("model", metavar="MODEL", choices=MODEL_NAMES, help=f"one of {', '.join(MODEL_NAMES)}")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help=SET_HELP)
    p.add_argument("--n", type=int, default=n, help=f"network size N (default {n})")
    p.add_argument(
        "--seed", type=int, default=0, help="PRNG seed for the network, state and frame (default 0)"
    )


def seed_args(p) -> None:
    """--seeds and --scale: the fixed-point search's seeding (read by :func:`search_options`)."""
    p.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"seeds of the fixed-point search per network (default {DEFAULT_SEEDS})",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="standard deviation of the random seeds around the zero state (default 1)",
    )


def search_options(args, command: str) -> dict:
    """The keyword arguments of ``find_fixed_points`` from --seeds and --scale, checked."""
    import math

    from ..errors import InputError, check_size

    check_size(command, "--seeds", args.seeds)
    if not (math.isfinite(args.scale) and args.scale > 0):
        raise InputError(f"--scale must be a finite number > 0, got {args.scale}")
    return {"n_seeds": args.seeds, "scale": args.scale}


def output_args(p, out: str) -> None:
    p.add_argument("--out", default=out, help=f"output folder (default {out})")
    p.add_argument("--json", action="store_true", help="print one JSON object with the main numbers")
    limit_args(p)


def limit_args(p) -> None:
    """--max-memory and --max-time: the limits the run's estimate is checked against before any work
    (:mod:`dynagate.limits`; read by :func:`check_limits`)."""
    p.add_argument(
        "--max-memory",
        default=None,
        metavar="SIZE",
        help="refuse runs estimated to need more memory, e.g. 64G (default: 3/4 of the RAM)",
    )
    p.add_argument("--max-time", default=None, metavar="DURATION",
                   help="refuse runs estimated to take longer, e.g. 48h, 90m, 2d (default 24h)")  # fmt: skip


def check_limits(args, estimate) -> None:
    """Refuse ``estimate`` (a :class:`dynagate.limits.Estimate`) beyond --max-memory / --max-time."""
    from .. import limits

    mem = None if args.max_memory is None else limits.parse_size(args.max_memory)
    time = None if args.max_time is None else limits.parse_duration(args.max_time)
    limits.check(estimate, max_memory=mem, max_time=time)


def network_sizes(ens, n: int, command: str):
    """The sizes of a network of ``n`` units of ``ens`` for the estimates (:func:`dynagate.limits.network`),
    after checking ``--n``."""
    from ..errors import check_size
    from ..limits import network

    return network(ens, check_size(command, "--n", n))


def network_from(args):
    """The ensemble from MODEL and --set, one network from --seed and --n, and the key for the rest."""
    import jax

    from ..models import sample

    ens = ensemble_from(args)
    kn, ks = jax.random.split(jax.random.PRNGKey(args.seed))
    return ens, sample(ens, args.n, key=kn), ks


def ensemble_from(args):
    """The ensemble from MODEL and --set (after checking --seed)."""
    from ..errors import InputError
    from ..models import MODELS

    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be an integer in [0, 2**63), got {args.seed}")
    cls = MODELS[args.model]
    return cls().replace(**parse_sets(cls, args.sets))


# ------------------------------------------------------------------------------------ --set parsing


def parse_sets(cls, items: list[str]) -> dict:
    """Turn ``--set NAME=VALUE`` strings into keyword arguments for ``cls(...).replace``.

    Hyperparameters (``cls.param_names()``) parse as floats (``none`` too where the field may be
    ``None``); the options ``n_in``, ``reset``, ``refine``, ``tied_input``, ``forget_init`` and
    ``update_init`` by their own rules. Names the model does not have are passed through unparsed, so
    that ``Ensemble.replace`` reports them.
    """
    from ..errors import InputError

    fields = {f.name: f for f in dataclasses.fields(cls)}
    params = set(cls.param_names())
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name:
            raise InputError(f"--set expects NAME=VALUE, got {item!r}")
        if name in out:
            raise InputError(f"--set {name} is given twice; give each parameter once")
        if name not in fields:
            out[name] = raw
        elif name in params:
            optional = "None" in str(fields[name].type)
            out[name] = None if optional and raw.lower() == "none" else _float(name, raw)
        elif name in _OPTIONS:
            out[name] = _OPTIONS[name](name, raw)
        else:
            out[name] = raw
    return out


def parse_param(cls, text: str, *, flag: str = "--param"):
    """Turn ``--param NAME=START:STOP:NUM`` into ``(NAME, NUM evenly spaced values from START to STOP)``.

    NAME must be a hyperparameter of ``cls`` (``cls.param_names()``); START and STOP finite numbers, NUM an
    integer from 1 (START alone) to :data:`MAX_NUM`. Error messages name ``flag`` (``--x``, ``--y`` for axes).
    """
    import math

    import numpy as np

    from ..errors import InputError

    name, sep, raw = text.partition("=")
    name, parts = name.strip(), raw.split(":")
    if not sep or not name or len(parts) != 3:
        raise InputError(f"{flag} expects NAME=START:STOP:NUM, got {text!r}")
    params = cls.param_names()
    if name not in params:
        if name in {f.name for f in dataclasses.fields(cls)}:
            what = f"{name!r} is not a hyperparameter of {cls.__name__}"
        else:
            what = f"unknown parameter {name!r} for {cls.__name__}"
        raise InputError(f"{flag}: {what}; hyperparameters: {', '.join(params)}")
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"{flag} {text}: START and STOP must be numbers") from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise InputError(f"{flag} {text}: START and STOP must be finite")
    try:
        num = int(parts[2])
    except ValueError:
        raise InputError(f"{flag} {text}: NUM must be an integer") from None
    if num < 1:
        raise InputError(f"{flag} {text}: NUM must be >= 1")
    if num > MAX_NUM:  # before the values are built (the resource limits are checked after parsing)
        raise InputError(f"{flag} {text}: NUM must be at most {MAX_NUM}")
    return name, np.linspace(start, stop, num)


def _float(name: str, raw: str) -> float:
    from ..errors import InputError

    try:
        return float(raw)
    except ValueError:
        raise InputError(f"--set {name}={raw}: not a number") from None


def _int(name: str, raw: str) -> int:
    from ..errors import InputError

    try:
        return int(raw)
    except ValueError:
        raise InputError(f"--set {name}={raw}: not an integer") from None


def _bool(name: str, raw: str) -> bool:
    from ..errors import InputError

    v = raw.lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise InputError(f"--set {name}={raw}: expected true/false (or 1/0)")


def _gate_init(name: str, raw: str):
    from ..errors import InputError
    from ..models import ChronoInit, UniformGateInit

    kind, colon, arg = raw.partition(":")
    kind = kind.strip().lower()
    if kind == "none" and not colon:
        return None
    if kind == "ugi":
        return UniformGateInit(d=_float(name, arg)) if colon else UniformGateInit()
    if kind == "chrono":
        return ChronoInit(t_max=_float(name, arg)) if colon else ChronoInit()
    raise InputError(f"--set {name}={raw}: expected ugi, ugi:D, chrono:TMAX or none")


_OPTIONS = {
    "n_in": _int,
    "reset": lambda name, raw: raw,
    "refine": _bool,
    "tied_input": _bool,
    "forget_init": _gate_init,
    "update_init": _gate_init,
}


def print_json(obj) -> None:
    """Print ``obj`` as one line of strict JSON (NaN and inf as null: :func:`dynagate.results.jsonable`)."""
    from ..results import jsonable  # numpy: not needed for --help

    print(json.dumps(jsonable(obj), allow_nan=False))
