"""`HelpScreen`: every key binding (read from the bindings themselves, so it cannot go stale)
and what the colours mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from stratlog.tui.styles import severity_badge

COLOURS = (
    ("OK / WARN / FAIL", "verdict of one check; the reason says what to look at"),
    ("PEND", "a check that needs training time, inside its grace: what it saw so far, judged from the step it names"),
    ("N more: ... / N checks: ...", "overview: findings of that verdict collapsed for lack of room (the tab lists them)"),
    ("magenta tokens", "special tokens of the chat template"),
    ("blue / green background", "reference audio (voice to clone) / target audio (speech to learn)"),
    ("rank [n]", "green live, red stalled, dim completed"),
)

class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[Binding]):
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Help — escape closes"
            yield Static(keys_table(self.bindings))
            yield Static(colours_table())

    def action_dismiss(self) -> None:
        self.dismiss(None)


def keys_table(bindings: list[Binding]) -> Table:
    table = Table(title="Keys", box=None, padding=(0, 2), title_justify="left", title_style="bold")
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    for binding in bindings:
        table.add_row(key_names(binding.key), binding.tooltip or binding.description)
    return table


def key_names(keys: str) -> str:
    """Textual's key names as printed on the keys: "plus,equals_sign" -> "+ =" ."""
    return " ".join(format_key(key) for key in keys.split(","))


def colours_table() -> Table:
    table = Table(title="Colours", box=None, padding=(0, 2), title_justify="left", title_style="bold")
    table.add_column("what", no_wrap=True)
    table.add_column("means")
    legend = Text.assemble(severity_badge("OK"), " ", severity_badge("WARN"), " ", severity_badge("FAIL"))
    table.add_row(legend, COLOURS[0][1])
    table.add_row(severity_badge("PENDING"), COLOURS[1][1])
    for what, means in COLOURS[2:]:
        table.add_row(what, means)
    return table
