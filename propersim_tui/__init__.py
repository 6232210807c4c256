"""The `propersim` command: the Textual app, and the headless batch runner.

Importing this package must not import textual: `propersim --batch` never loads it.
"""
