"""Checks the command-line tests share: file digests, a refusal's message."""

import hashlib
import pathlib

import numpy as np

from vgpnn_jax import io


def digest(path: pathlib.Path) -> str:
  """The sha256 of a file's bytes (to check an input is left as it was)."""
  return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(err: str, message: str) -> None:
  """`err` is one 'error: ...' line naming `message`, with no traceback."""
  assert message in err and err.startswith('error: '), err
  assert 'Traceback' not in err and err.count('\n') == 1, err


def write_wave_video(folder: pathlib.Path) -> pathlib.Path:
  """A smooth 6x18x24 colour wave saved as folder/input.mp4 (10 fps)."""
  t = np.linspace(0, 1, 6)[:, None, None, None]
  y = np.linspace(0, 1, 18)[None, :, None, None]
  x = np.linspace(0, 1, 24)[None, None, :, None]
  video = 0.5 + 0.4 * np.sin(8 * x + 5 * y + 2 * t + np.array([0, 1, 2]))
  path = folder / 'input.mp4'
  io.write_video(path, video.astype(np.float32), fps=10)
  return path
