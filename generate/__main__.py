"""`python -m generate [--check] [--only NAME ...]`: write every generated artefact, or check them.

The generators run in this order because a later one may read what an earlier one wrote (the
PrometheusRule is built from the files in alert_rules/).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from generate import (
    alert_rules,
    dashboards,
    kubernetes_config,
    kubernetes_dashboards,
    metrics_doc,
    mixin,
    prometheus_rule,
    promtool_tests,
)

REPO = Path(__file__).resolve().parent.parent
GENERATORS: dict[str, ModuleType] = {
    "metrics-doc": metrics_doc,
    "alert-rules": alert_rules,
    "promtool-tests": promtool_tests,
    "prometheus-rule": prometheus_rule,
    "kubernetes-config": kubernetes_config,
    "dashboards": dashboards,
    "kubernetes-dashboards": kubernetes_dashboards,
    "mixin": mixin,
}


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def stale(name: str, module: ModuleType) -> list[tuple[Path, str | None]]:
    """(path, wanted content) for every file that differs; None as content means stray."""
    wanted: dict[Path, str] = module.outputs()
    out: list[tuple[Path, str | None]] = [
        (path, text) for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    owned: Callable[[], list[Path]] | None = getattr(module, "owned", None)
    if owned is not None:
        out += [(path, None) for path in owned() if path not in wanted]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any artefact is stale")
    parser.add_argument("--only", action="append", choices=sorted(GENERATORS), help="run only these generators")
    args = parser.parse_args(argv)
    failed = False
    for name, module in GENERATORS.items():
        if args.only and name not in args.only:
            continue
        for path, text in stale(name, module):
            if args.check:
                what = "stray" if text is None else "stale"
                print(f"{_rel(path)} is {what}; run: python -m generate --only {name}", file=sys.stderr)
                failed = True
            elif text is None:
                path.unlink()
                print(f"removed {_rel(path)}")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {_rel(path)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
