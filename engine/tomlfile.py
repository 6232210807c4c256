"""Reading a TOML file that a person wrote or a run recorded: every way it can fail becomes an
error that names the file (never a traceback)."""

import tomllib
from pathlib import Path

from engine.errors import ConfigError, Problem


def read_toml(path: Path | str, error: type[ConfigError] = ConfigError) -> dict:
    """The tables of a TOML file, or `error` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as failure:
        raise error(path, [Problem("", f"cannot read: {failure.strerror or failure}")]) from None
    except UnicodeDecodeError as failure:
        raise error(path, [Problem("", f"not UTF-8 text (byte {failure.start})")]) from None
    except tomllib.TOMLDecodeError as failure:
        raise error(path, [Problem("", f"invalid TOML: {failure}")]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise error(path, [Problem("", "invalid TOML: nested too deeply")]) from None
