"""The terminal progress bar and the choice between bar and lines."""

import io as stdio

import numpy as np

import vgpnn_jax
from vgpnn_jax import generation
from vgpnn_jax import progress


class _Terminal(stdio.StringIO):

  def isatty(self) -> bool:
    return True


def _levels():
  return vgpnn_jax.plan_levels((13, 144, 256), vgpnn_jax.make_config())


def test_bar_advances_by_each_levels_work_and_closes():
  levels = _levels()
  stream = _Terminal()
  bar = progress.Bar(levels, stream=stream)
  work = generation.level_work(levels)
  assert work[0] < work[-1]  # coarsest first
  for done, level in enumerate(levels[::-1]):
    bar(done, len(levels), level, np.zeros(()))
    want = sum(work[:done + 1]) / sum(work)
    assert abs(bar.fraction_done - want) < 1e-12, (done, bar.fraction_done)
    # The time left is shown between the first and the last level.
    assert ('s left' in bar.status) == (0 < done < len(levels) - 1), (
        done, bar.status)
  text = stream.getvalue()
  t, h, w = levels[0].output_size
  assert f'level {len(levels)} of {len(levels)} ({t}x{h}x{w})' in text
  assert '100%' in text and text.endswith('\n')  # closed after the last


def test_bar_counts_levels_for_another_plan():
  levels = _levels()
  bar = progress.Bar(levels, stream=_Terminal())
  for done in range(3):  # the run had 3 levels, not the plan's
    bar(done, 3, levels[-1], np.zeros(()))
    assert abs(bar.fraction_done - (done + 1) / 3) < 1e-12


def test_progress_for_draws_a_bar_only_on_a_terminal():
  levels = _levels()
  lines = []
  assert isinstance(progress.progress_for(levels, stream=_Terminal()),
                    progress.Bar)
  plain = progress.progress_for(levels, say=lines.append,
                                stream=stdio.StringIO())
  assert isinstance(plain, generation.Timer)
  plain(0, len(levels), levels[-1], np.zeros(()))
  assert lines and lines[0].startswith('  level  1 of')
  assert isinstance(progress.progress_for(levels, stream=stdio.StringIO(),
                                          bar=True), progress.Bar)
