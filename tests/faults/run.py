"""`make faults`: every fault scenario against real servers, one table of what each counted.

    PYTHONPATH=tests python -m faults.run                      # all of them (about 20 min)
    PYTHONPATH=tests python -m faults.run broker-crash es-down # some
    PYTHONPATH=tests python -m faults.run --mail-outage 30     # a shorter mail outage

Kafka and Elasticsearch are started for the run on ports of their own and
removed at the end, except that WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL,
when set, name servers to use instead for runs that do not crash them
(broker-crash needs its own Kafka, es-down its own Elasticsearch).  The
shared corpus is read from WIREWATCH_CORPUS_DIR or ../shared/corpus.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .harness import ROOT, Figures, Run, Stack
from .scenarios import SCENARIOS, es_down, mail_down

console = Console(stderr=True)


def table(results: list[Figures]) -> Table:
    t = Table(title="WireWatch under faults", title_justify="left")
    for header in ("scenario", "stories", "indexed", "indexed twice", "stories parked", "stories lost", "alerts expected",
                   "decided", "delivered", "delivered twice", "resent in the crash window", "alerts parked", "alerts lost",
                   "recovery s"):
        t.add_column(header, justify="left" if header == "scenario" else "right")
    for f in results:
        mark = "" if f.clean else " ✗"
        t.add_row(
            f.scenario + mark, f"{f.stories:,}" + (f" +{f.malformed:,} bad" if f.malformed else ""), f"{f.indexed:,}",
            str(f.written_twice), str(f.stories_parked), str(f.stories_lost), f"{f.alerts_expected:,}", f"{f.alerts_decided:,}",
            f"{f.delivered:,}", str(f.delivered_twice), str(f.resent), str(f.alerts_parked), str(f.alerts_lost),
            "—" if f.recovery_s is None else f"{f.recovery_s:.1f}",
        )
    return t


def run_scenario(stack: Stack, name: str, workdir: Path, corpus: Path, stories: int, rate: float,
                 mail_outage: float, es_outage: float) -> Figures:
    entry = SCENARIOS[name]
    step = entry.run
    overrides = {}
    if step is mail_down:
        step = functools.partial(mail_down, outage=mail_outage)
        overrides["retry_horizon_seconds"] = max(900.0, 3 * mail_outage)
    elif step is es_down:
        step = functools.partial(es_down, outage=es_outage)
    run = Run(stack, name, workdir / name, corpus, stories=stories, rate=rate, **overrides)
    began = time.monotonic()
    try:
        step(run)
        figures = run.finish()
    except Exception as exc:  # noqa: BLE001 - one scenario failing must not hide the others' figures
        figures = Figures(name, stories=len(run.stories))
        figures.notes.append(f"the scenario itself failed: {type(exc).__name__}: {exc}")
    finally:
        closing = run.close()
    figures.notes.extend(closing)
    figures.notes.append(f"took {time.monotonic() - began:.0f} s; logs in {workdir / name}")
    return figures


def main(
    scenarios: list[str] = typer.Argument(None, help=f"Scenarios to run (default: all): {', '.join(SCENARIOS)}.", show_default=False),
    stories: int = typer.Option(3000, help="Real Reuters stories replayed per scenario."),
    rate: float = typer.Option(150.0, help="Stories a second the producer sends."),
    mail_outage: float = typer.Option(300.0, help="Seconds the mail server stays down in mail-down."),
    es_outage: float = typer.Option(60.0, help="Seconds Elasticsearch stays down in es-down."),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures as JSON to this file."),
) -> None:
    """Run the fault scenarios and print what each counted; exit 1 if any lost or doubled something."""
    names = scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise typer.BadParameter(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    corpus = Path(os.environ.get("WIREWATCH_CORPUS_DIR", ROOT.parent / "shared" / "corpus"))
    # Under /tmp so Elasticsearch's own user can reach its folder.
    workdir = Path(tempfile.mkdtemp(prefix="wirewatch-faults-"))
    results: list[Figures] = []
    # Services a chosen scenario crashes are always started here; the others may be ones already running.
    crashed = {service for n in names for service in SCENARIOS[n].needs_own}
    kafka = None if "kafka" in crashed else os.environ.get("WIREWATCH_KAFKA_BOOTSTRAP")
    es = None if "elasticsearch" in crashed else os.environ.get("WIREWATCH_ES_URL")
    with Stack(workdir / "services", kafka=kafka, es=es) as stack:
        console.print(f"Kafka at {stack.settings.kafka_bootstrap}, Elasticsearch at {stack.settings.es_url}; work in {workdir}")
        for name in names:
            console.print(f"[bold]{name}[/]: {SCENARIOS[name].describe} …")
            figures = run_scenario(stack, name, workdir, corpus, stories, rate, mail_outage, es_outage)
            results.append(figures)
            console.print(f"  {'clean' if figures.clean else 'NOT CLEAN'}; " + "; ".join(figures.notes))
    Console().print(table(results))
    for f in results:
        if f.notes:
            console.print(f"[bold]{f.scenario}[/]: " + "; ".join(f.notes))
    if json_out:
        json_out.write_text(json.dumps([dataclasses.asdict(f) for f in results], indent=2))
    raise typer.Exit(0 if all(f.clean for f in results) else 1)


if __name__ == "__main__":
    typer.run(main)
