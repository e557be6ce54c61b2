"""``dynagate info``: versions, JAX backend, devices and float dtype."""

from __future__ import annotations

from ._common import print_json


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="versions, JAX backend, devices and float dtype")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args) -> int:
    import jax

    from ..io import provenance

    info = provenance()
    info["devices"] = [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]
    if args.json:
        print_json(info)
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {', '.join(v) if isinstance(v, list) else v}")
    return 0
