"""argparse for the `propersim` commands: its error messages quote what was typed, so they are made
terminal-safe first (an escape sequence in an argument is shown escaped, never sent raw)."""

import argparse

from engine.safe_text import terminal_safe


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):
        super().error(terminal_safe(message, newlines=False))
