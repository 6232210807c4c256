"""The shipped persona files live in this package's folder (see README.md here)."""
