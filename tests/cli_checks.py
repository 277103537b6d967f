"""Checks the command-line tests share: file digests, a refusal's message."""

import hashlib
import pathlib


def digest(path: pathlib.Path) -> str:
  """The sha256 of a file's bytes (to check an input is left as it was)."""
  return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(err: str, message: str) -> None:
  """`err` is one 'error: ...' line naming `message`, with no traceback."""
  assert message in err and err.startswith('error: '), err
  assert 'Traceback' not in err and err.count('\n') == 1, err
