"""Entry point: registers every command module and turns user errors into one line."""

from __future__ import annotations

import sys

import typer
from typer.exceptions import TyperException

from gpuwise.cli import apps
from gpuwise.errors import GpuwiseError

# Importing a command module registers its commands on the groups in ``apps``.
from gpuwise.cli import catalog as _catalog  # noqa: F401,E402  isort: skip
from gpuwise.cli import fleet as _fleet  # noqa: F401,E402  isort: skip
from gpuwise.cli import sim_pack as _sim_pack  # noqa: F401,E402  isort: skip
from gpuwise.cli import sim_replay as _sim_replay  # noqa: F401,E402  isort: skip
from gpuwise.cli import plan_train as _plan_train  # noqa: F401,E402  isort: skip
from gpuwise.cli import plan_size as _plan_size  # noqa: F401,E402  isort: skip
from gpuwise.cli import plan_serve as _plan_serve  # noqa: F401,E402  isort: skip
from gpuwise.cli import calibrate as _calibrate  # noqa: F401,E402  isort: skip

app = apps.app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    try:
        rv = app(args=argv, prog_name="gpuwise", standalone_mode=False)
    except GpuwiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except TyperException as exc:  # usage errors: bad option, missing argument, ...
        message = exc.format_message()
        if message:
            print(f"error: {message}", file=sys.stderr)
        return int(exc.exit_code) or 2
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
