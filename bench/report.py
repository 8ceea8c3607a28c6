"""Results of the benchmarks and the Markdown page they are written to (docs/benchmarks.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Result:
    """One measured figure next to its reference from the same run, and the goal it is held to."""

    benchmark: str  # the section it belongs to
    name: str  # what was measured
    value: float
    unit: str
    reference_name: str = ""
    reference_value: float | None = None
    goal: str = ""  # in words, e.g. "gateway costs at most 20 % of throughput"
    met: bool | None = None  # None: no goal for this figure
    details: list[str] = field(default_factory=list)  # absolute figures, CPU shares, settings

    @property
    def ratio(self) -> float | None:
        if not self.reference_value:
            return None
        return self.value / self.reference_value

    def line(self) -> str:
        """A one-line summary for the console."""
        text = f"[{self.benchmark}] {self.name}: {_number(self.value)} {self.unit}"
        if self.reference_value is not None:
            text += f" vs {self.reference_name} {_number(self.reference_value)} {self.unit}"
            if self.ratio is not None:
                text += f" (ratio {self.ratio:.2f})"
        if self.met is not None:
            text += f" — goal {'met' if self.met else 'MISSED'}: {self.goal}"
        return text


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass
class Section:
    key: str
    title: str
    method: str  # how it is measured, in a few sentences
    results: list[Result] = field(default_factory=list)
    error: str = ""  # set when the benchmark itself failed
    note: str = ""  # what limits a missed goal and what was tried (kept with the code, in bench/notes.py)
    context: str = ""  # what to know to read the figures, met or missed (bench/notes.py)
    measured_at: str = ""  # when it ran, e.g. "2026-11-28 03:09 UTC"
    quick: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        results = [Result(**r) for r in data.get("results", [])]
        return cls(**{**data, "results": results})


def render(
    sections: list[Section],
    machine: dict[str, str],
    *,
    quick: bool,
    seconds: float,
    fixes: str,
    now: datetime | None = None,
) -> str:
    now = now or datetime.now(UTC)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand: the numbers are replaced on every "
        "run, and the notes live in `bench/notes.py`. Each figure stands next to a reference measured in the "
        "same run on the same machine, so the ratios hold even when the absolute numbers move with the load "
        "of the machine.",
        "",
        f"- Date: {now.strftime('%Y-%m-%d %H:%M UTC')} (a section not run then keeps the date it was run)"
        + (" — **quick run** (smoke sizes and durations; not representative)" if quick else ""),
        f"- Machine: {machine.get('cores', '?')} cores, {machine.get('memory', '?')} RAM, "
        f"{machine.get('cpu', '?')}; {machine.get('os', '')}",
        f"- Software: {machine.get('python', '')}; MariaDB {machine.get('mariadb', '?')}; "
        f"{machine.get('rabbitmq', 'RabbitMQ ?')}",
        *([f"- The whole run took {seconds / 60:.1f} minutes."] if seconds >= 1 else []),
        "",
        "## Summary",
        "",
        "| benchmark | figure | measured | reference | ratio | goal | |",
        "|---|---|---|---|---|---|---|",
    ]
    for section in sections:
        if section.error:
            lines.append(f"| {section.title} | — | failed: {_cell(section.error)} | | | | ✗ |")
        for result in section.results:
            if result.met is None and result.reference_value is None:
                continue
            reference = (
                f"{_number(result.reference_value)} {result.unit} ({result.reference_name})"
                if result.reference_value is not None
                else ""
            )
            ratio = f"{result.ratio:.2f}" if result.ratio is not None else ""
            verdict = "" if result.met is None else ("met" if result.met else "**missed**")
            lines.append(
                f"| {section.title} | {_cell(result.name)} | {_number(result.value)} {result.unit} | "
                f"{_cell(reference)} | {ratio} | {_cell(result.goal)} | {verdict} |"
            )
    for section in sections:
        lines += ["", f"## {section.title}", "", section.method, ""]
        if section.measured_at:
            kind = " (quick run)" if section.quick else ""
            lines += [f"Measured {section.measured_at}{kind}.", ""]
        if section.error:
            lines += [f"**The benchmark failed:** `{section.error}`", ""]
        for result in section.results:
            lines.append(f"- {result.line().split('] ', 1)[1]}")
            lines += [f"  - {detail}" for detail in result.details]
        if section.context:
            lines += ["", f"**Reading these figures.** {section.context}"]
        if section.note and any(r.met is False for r in section.results):
            lines += ["", f"**Why a goal is missed, and what was tried.** {section.note}"]
    if fixes:
        lines += ["", "## Fixes made after measuring", "", fixes.strip()]
    return "\n".join(lines) + "\n"
