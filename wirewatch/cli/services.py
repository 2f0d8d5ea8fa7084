"""`wirewatch services up|down|status`: a local Kafka and Elasticsearch without Docker."""

from __future__ import annotations

import time

import typer

from .common import console, friendly_errors, out, settings

app = typer.Typer(
    help=(
        "Run a local Kafka and Elasticsearch without Docker (fetched with Maven, kept under "
        "WIREWATCH_HOME, listening where WIREWATCH_KAFKA_BOOTSTRAP and WIREWATCH_ES_URL say)."
    ),
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="services")


KAFKA_ONLY = typer.Option(False, "--kafka-only", help="Only Kafka.")
ES_ONLY = typer.Option(False, "--es-only", help="Only Elasticsearch.")


def _names(kafka_only: bool, es_only: bool) -> tuple[str, ...]:
    if kafka_only and es_only:
        console.print("[red]error:[/] --kafka-only and --es-only exclude each other")
        raise typer.Exit(2)
    if kafka_only:
        return ("kafka",)
    if es_only:
        return ("elasticsearch",)
    return ("kafka", "elasticsearch")


class _Steps:
    """Shows each service's current step: spinners on a terminal, one line per change elsewhere (CI logs)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.live = console.is_terminal
        self.last: dict[str, str] = {}
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.fields[service]:<14}[/]"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            disable=not self.live,
        )
        self.tasks = {name: self.progress.add_task("", service=name, total=1) for name in names}

    def __enter__(self) -> _Steps:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def step(self, service: str, text: str) -> None:
        done = text.startswith(("ready", "already", "using", "stopped", "not running", "killed"))
        self.progress.update(self.tasks[service], description=text, completed=1 if done else 0)
        if not self.live and self.last.get(service) != text:
            console.print(f"{service}: {text}")
        self.last[service] = text

    def note(self, text: str) -> None:
        console.print(f"[yellow]note:[/] {text}")


def _table(reports) -> None:
    from rich import box
    from rich.table import Table

    table = Table("service", "state", "pid", "address", "health", box=box.SIMPLE_HEAD, pad_edge=False)
    for r in reports:
        health = r.health.text if r.health else ""
        colour = "green" if r.health and r.health.ok else ("red" if r.state in ("running", "taken") else "dim")
        table.add_row(
            f"{r.title} {r.version}".strip(), r.state, str(r.pid or ""), r.address,
            f"[{colour}]{health}[/]" if health else "",
        )  # fmt: skip
    out.print(table)
    for r in reports:
        extra = ", ".join(f"{what} {port}" for what, port in r.ports.items())
        if r.log:
            out.print(f"{r.title} log: {r.log}" + (f" (ports: {extra})" if extra else ""))


@app.command("up")
def up(
    kafka_only: bool = KAFKA_ONLY,
    es_only: bool = ES_ONLY,
    timeout: float = typer.Option(240.0, "--timeout", min=1, help="Seconds to wait for the services to answer."),
    use_existing: bool = typer.Option(
        False, "--use-existing", help="When a port is taken by a Kafka or Elasticsearch that answers, use it instead of failing."
    ),
) -> None:
    """Fetch (first time only), start and wait for Kafka and Elasticsearch. Harmless when they already run."""
    from wirewatch import services

    names = _names(kafka_only, es_only)
    s = settings()
    started = time.monotonic()
    with friendly_errors():
        with _Steps(names) as steps:
            reports = services.up(s, names, timeout=timeout, use_existing=use_existing, reporter=steps)
        console.print(f"ready in {time.monotonic() - started:.1f} s; files under {s.home.resolve()}")
        _table(reports)


@app.command("down")
def down(
    kafka_only: bool = KAFKA_ONLY,
    es_only: bool = ES_ONLY,
    timeout: float = typer.Option(30.0, "--timeout", min=1, help="Seconds to wait after SIGTERM before SIGKILL."),
    purge: bool = typer.Option(
        False, "--purge", help="Also delete their data, logs and unpacked files (Maven's download cache in ~/.m2 stays)."
    ),
) -> None:
    """Stop the services started from this WIREWATCH_HOME (never anything else)."""
    from wirewatch import services

    names = _names(kafka_only, es_only)
    with friendly_errors(), _Steps(names) as steps:
        services.down(settings(), names, timeout=timeout, reporter=steps, purge=purge)


@app.command("status")
def status(kafka_only: bool = KAFKA_ONLY, es_only: bool = ES_ONLY) -> None:
    """Show each service: state, pid, ports, health. Exit code 0 when all answer, 3 otherwise."""
    from wirewatch import services

    with friendly_errors():
        reports = services.status(settings(), _names(kafka_only, es_only))
    _table(reports)
    if not all(r.health and r.health.ok for r in reports):
        raise typer.Exit(3)
