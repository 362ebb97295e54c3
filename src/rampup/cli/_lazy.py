"""Help panels, help text without line breaks inside sentences, and a root command group
that builds only the command being run.

typer turns every registered command into a click command (reading each signature) before
it parses anything; for ~80 commands that is most of ``rampup --help``'s time. :class:`LazyRoot`
builds a command when it is looked up, and shows the root help from the registered
commands' names, help and panels without building them.
"""

from __future__ import annotations

import inspect
from difflib import get_close_matches
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo


def reflow(text: str | None) -> str | None:
    """Help text as paragraphs: the line breaks of a docstring inside a paragraph become
    spaces (rich help would show them inside sentences); ``\\b`` paragraphs stay as written.

    >>> reflow("Say what it does,\\n    and why.\\n\\n    More.")
    'Say what it does, and why.\\n\\nMore.'
    """
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(
        line.strip() for line in p.splitlines()) for p in paragraphs)


def arrange(root: typer.Typer, panels: dict[str, str], order: tuple[str, ...]) -> None:
    """Put every top-level command in its help panel, panels in ``order``; reflow help."""
    def rank(name: str | None) -> int:
        panel = panels.get(name or "")
        return order.index(panel) if panel in order else len(order)

    for info in root.registered_commands:
        info.rich_help_panel = panels.get(command_name(info), info.rich_help_panel)
    for group in root.registered_groups:
        group.rich_help_panel = panels.get(group.name or "", group.rich_help_panel)
    root.registered_commands.sort(key=lambda i: rank(command_name(i)))
    root.registered_groups.sort(key=lambda g: rank(g.name))
    _reflow_all(root)


def command_name(info: CommandInfo) -> str:
    if info.name:
        return info.name
    return (info.callback.__name__ if info.callback else "").replace("_", "-")


def help_of(info: CommandInfo | TyperInfo) -> str:
    if isinstance(info, CommandInfo):
        return _text(info.help) or inspect.getdoc(info.callback) or ""
    sub = info.typer_instance
    return _text(info.help) or (_text(sub.info.help) if sub is not None else None) or ""


def _reflow_all(typer_app: typer.Typer) -> None:
    if _text(typer_app.info.help):
        typer_app.info.help = reflow(typer_app.info.help)
    for info in typer_app.registered_commands:
        info.help = reflow(help_of(info)) or None
    for group in typer_app.registered_groups:
        if _text(group.help):
            group.help = reflow(group.help)
        if group.typer_instance is not None:
            _reflow_all(group.typer_instance)


def _text(value: Any) -> str | None:
    """typer keeps unset values as ``DefaultPlaceholder``; only real strings count."""
    return value if isinstance(value, str) else None


class LazyRoot(TyperGroup):
    """The root group of ``rampup``: commands are built from the full app's registrations
    when looked up; its own help lists them without building them."""

    source: typer.Typer | None = None
    _listing = False

    @classmethod
    def run(cls, root: typer.Typer, source: typer.Typer) -> None:
        """Run ``root`` (a typer app with ``cls=LazyRoot`` and the root callback only)
        with the commands of ``source``."""
        group = typer.main.get_command(root)
        assert isinstance(group, LazyRoot)
        group.source = source
        group(prog_name="rampup")

    def _infos(self) -> dict[str, CommandInfo | TyperInfo]:
        assert self.source is not None
        out: dict[str, CommandInfo | TyperInfo] = {
            command_name(i): i for i in self.source.registered_commands}
        out.update({g.name: g for g in self.source.registered_groups if g.name})
        return out

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self._infos())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        info = self._infos().get(cmd_name)
        if info is None:
            return None
        if self._listing:  # the root help needs a name, a help text and a panel
            panel = info.rich_help_panel
            return TyperCommand(cmd_name, help=help_of(info),
                                rich_help_panel=panel if isinstance(panel, str) else None)
        command = _build(info, cmd_name)
        self.commands[cmd_name] = command
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # click's UsageError (typer ships its own click copy)
            message = getattr(exc, "message", None)
            if isinstance(message, str) and args and "Did you mean" not in message:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    exc.message = (f"{message.rstrip('.')}. Did you mean "  # type: ignore[attr-defined]
                                   f"{', '.join(repr(m) for m in matches)}?")
            raise

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _build(info: CommandInfo | TyperInfo, name: str) -> Any:
    """One command (or command group) as typer would build it inside the full app."""
    single = typer.Typer()
    if isinstance(info, CommandInfo):
        single.registered_commands.append(info)
        return typer.main.get_command(single)
    single.registered_groups.append(info)
    group = typer.main.get_command(single)
    assert isinstance(group, TyperGroup)
    return group.commands[name]
