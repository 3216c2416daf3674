"""``medai`` entry point: sub-apps per pillar, ``--version``, and the error-to-exit-code policy.

Exit codes: 0 success, 2 bad input or usage (any :class:`~medai.core.errors.InvalidInputError`,
dataset and missing-extra errors), 1 internal error.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from medai import __version__
from medai.cli import datasets as datasets_cli
from medai.cli import deid as deid_cli
from medai.cli import demo as demo_cli
from medai.cli import imaging as imaging_cli
from medai.cli import molecules as molecules_cli
from medai.cli import risk as risk_cli
from medai.cli import text as text_cli
from medai.core.errors import MedaiError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="medai",
    help="medai: validated, explainable, privacy-respecting AI models from medical data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(risk_cli.app, name="risk")
app.add_typer(imaging_cli.app, name="image")
app.add_typer(text_cli.app, name="text")
app.add_typer(molecules_cli.app, name="mol")
app.add_typer(datasets_cli.app, name="datasets")
app.add_typer(deid_cli.app, name="deid")
app.command("demo")(demo_cli.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"medai {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more detail to stderr."),
) -> None:
    """medai: validated, explainable, privacy-respecting AI models from medical data."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=None, show_path=False)],
        force=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (errors printed on one line)."""
    try:
        app(args=argv, prog_name="medai", standalone_mode=False)
    except MedaiError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors (exit 2) and other CLI errors
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("MEDAI_DEBUG"):
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc} (set MEDAI_DEBUG=1 for a traceback; "
            "please report it)",
            err=True,
        )
        return 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
