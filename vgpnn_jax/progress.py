"""Progress of a generation on a terminal: one bar with the time left.

    progress = progress_for(levels, stream=sys.stderr)   # Bar or Timer
    outputs = generation.generate_batch(keys, video, progress=progress)

`Bar` is a progress callback of the `generation.generate` kind, drawn with
tqdm. It counts work rather than levels (`generation.level_work`: output
voxels times iterations), so the bar moves as the time does once the
programs are compiled, and shows the time left as `generation.Timer` does
(`generation.seconds_left`: a fixed cost per level plus a cost per unit of
work, fitted to the levels run so far; tqdm's own estimate, the average rate
per unit of work, charged the fine levels with the coarse levels'
compilation). When the stream is no terminal (a log file, a pipe, a
notebook's captured output), `progress_for` gives the plain lines of
`generation.Timer` instead, which read well in a log.
"""

import sys
from typing import Sequence, TextIO

import jax
import tqdm

from vgpnn_jax import generation

# tqdm's default template with the level and the time left in place of the
# rate (a rate of "voxel-iterations" per second tells a user nothing) and of
# tqdm's remaining time.
_BAR_FORMAT = '{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}]'


class Bar:
  """A tqdm bar over the levels of one generation; a progress callback.

  The bar starts when it is made (make it just before the generation, so the
  first level's compilation counts), advances by each level's work when the
  level's output is ready, and closes after the last level.
  """

  def __init__(self, levels: Sequence[generation.Level], *,
               stream: TextIO | None = None, desc: str = 'generating'):
    """`levels`: the plan (finest first); `stream`: default sys.stderr."""
    self._clock = generation.LevelClock(levels)
    self._work = self._clock.work
    self._bar = tqdm.tqdm(
        total=sum(self._work), desc=desc, file=stream or sys.stderr,
        bar_format=_BAR_FORMAT, dynamic_ncols=True,
        postfix=f'level 0 of {len(self._work)}')

  def __call__(self, done: int, num_levels: int, level: generation.Level,
               output: jax.Array) -> None:
    left = self._clock.level_done(done, num_levels, output)
    t, h, w = level.output_size
    postfix = f'level {done + 1} of {num_levels} ({t}x{h}x{w})'
    if num_levels == len(self._work):
      if left is not None:
        postfix += f', about {left:.0f} s left'
      self._bar.set_postfix_str(postfix, refresh=False)
      self._bar.update(self._work[done])
    else:  # another plan than the one given: count levels
      self._bar.set_postfix_str(postfix, refresh=False)
      self._bar.total = num_levels
      self._bar.update(1)
    if done + 1 == num_levels:
      self.close()

  @property
  def status(self) -> str:
    """The text beside the bar: the level and, once known, the time left."""
    return self._bar.postfix or ''

  @property
  def fraction_done(self) -> float:
    """The share of the work done, in [0, 1]."""
    return self._bar.n / self._bar.total if self._bar.total else 1.0

  def close(self) -> None:
    """Closes the bar (also after an error: the terminal line is freed)."""
    self._bar.close()


def progress_for(levels: Sequence[generation.Level], *, say=print,
                 stream: TextIO | None = None, bar: bool | None = None):
  """A progress callback: a `Bar` on a terminal, `generation.Timer` lines
  (printed with `say`) elsewhere.

  Args:
    levels: the plan (finest first), for the work per level and time left.
    say: prints one line (the lines' destination).
    stream: where a bar is drawn; default sys.stderr.
    bar: force a bar (True) or lines (False); None: a bar when `stream` is a
      terminal.
  """
  stream = stream or sys.stderr
  if bar is None:
    bar = bool(getattr(stream, 'isatty', lambda: False)())
  if bar:
    return Bar(levels, stream=stream)
  return generation.Timer(say, levels=levels)
