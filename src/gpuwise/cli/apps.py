"""The Typer applications that command modules attach their commands to.

Each command module (``cli/catalog.py``, ``cli/fleet.py``, ``cli/sim_pack.py``, ...) imports
the group it extends from here and decorates its functions; ``cli/main.py`` imports the
modules so the commands register.  Adding a command touches one module and one import.
"""

from __future__ import annotations

import typer

_SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="gpuwise",
    help="Get the most AI work out of a fixed, heterogeneous GPU stock.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=_SETTINGS,
)
catalog_app = typer.Typer(help="The accelerator catalog.", context_settings=_SETTINGS)
fleet_app = typer.Typer(help="The organization's GPU inventory.", no_args_is_help=True)
sim_app = typer.Typer(help="Simulators: packing and trace replay.", no_args_is_help=True)
plan_app = typer.Typer(help="Planners: training, model size, serving.", no_args_is_help=True)

app.add_typer(catalog_app, name="catalog")
app.add_typer(fleet_app, name="fleet")
app.add_typer(sim_app, name="sim")
app.add_typer(plan_app, name="plan")
