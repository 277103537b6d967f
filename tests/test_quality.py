"""Quality of PatchMatch generation against exact search (issue 4, point 4).

Both searches run on a small crop of the bundled sample with the same keys.
Level by level from the same start (`paired_search.level_outputs`), the
outputs differ only by the search, and their patch statistics (DESIGN.md §3)
must be close; whole generations diverge in layout, so their bounds are
looser.
"""

import functools
import pathlib

from absl.testing import absltest
import jax
import numpy as np

from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import paired_search
from vgpnn_jax import resampling

_SAMPLE = pathlib.Path(__file__).parent.parent / 'vgpnn_jax' / 'data' / (
    'bunny.mp4')
_SIZE = (7, 30, 52)
_NUM_SAMPLES = 3
_MIN_SIDE = 15
# The finest 4 of the 7 levels at this size: each level is its own programs
# (about 1 s of compilation each), and the finest levels are the ones that
# matter.
_MAX_LEVELS = 4
# PatchMatch / exact from the same start, measured on this input (key 0):
# over the 4 levels, coherence 0.98-1.06 (mean 1.016), completeness
# 0.91-1.01 (mean 0.976); finest level 1.012 and 1.012. The largest ratio is
# at the second level (6x22x38, where a level's layout still moves). A
# PatchMatch weakened to one step of 1 without jitter gave coherence mean
# 1.08 and finest 1.039: these bounds fail it.
_MAX_MEAN_LEVEL_RATIO = 1.06
_MAX_FINEST_LEVEL_RATIO = 1.03
# Whole generations, PatchMatch / exact, measured on this input (3 samples,
# 4 levels, no structure guard): coherence 1.05, completeness 0.96. With all
# 7 levels and the guard they were 0.88 and 0.75 (1.29 and 0.93 with the
# weakened PatchMatch, not re-measured on 4 levels); on a 9x45x80 crop 1.10
# and 1.45. The layouts of whole generations diverge: the bounds are what
# PatchMatch must never exceed.
_MAX_COHERENCE_RATIO = 1.25
_MAX_COMPLETENESS_RATIO = 1.6


@functools.cache
def _crop() -> np.ndarray:
  video, _ = io.read_video(_SAMPLE)
  return np.asarray(resampling.resize(video, _SIZE))


def _keys() -> jax.Array:
  return jax.random.split(jax.random.key(0), _NUM_SAMPLES)


def _scores(outputs, reference) -> np.ndarray:
  """Mean over the outputs of (coherence, completeness)."""
  return np.mean([[float(metrics.coherence(o, reference)),
                   float(metrics.completeness(o, reference))]
                  for o in outputs], axis=0)


@functools.cache
def _paired_levels():
  """Per level: (exact scores, PatchMatch scores), and the last exact output."""
  scores = []
  for _, outputs, level_input in paired_search.level_outputs(
      _keys(), _crop(), min_side=_MIN_SIDE, max_levels=_MAX_LEVELS):
    scores.append((_scores(outputs['exact'], level_input),
                   _scores(outputs['patchmatch'], level_input)))
  return scores, np.asarray(outputs['exact'])


@functools.cache
def _generated(search: str) -> np.ndarray:
  # The completeness term acts on exact-search levels only, and the structure
  # guard's extra draws are not in `level_outputs`: both off, so that the two
  # generations differ by their search alone (and match the carried levels).
  return np.asarray(generation.generate_batch(
      _keys(), _crop(), search=search, min_side=_MIN_SIDE,
      max_levels=_MAX_LEVELS, alpha=None, layout_draws=1))


class PatchMatchQualityTest(absltest.TestCase):

  def test_levels_from_the_same_start_close_to_exact(self):
    scores, _ = _paired_levels()
    self.assertLen(scores, _MAX_LEVELS)
    ratios = np.array([pm / exact for exact, pm in scores])  # [levels, 2]
    print('patchmatch / exact per level (coherence, completeness):\n',
          np.round(ratios, 3))
    np.testing.assert_array_less(np.mean(ratios, axis=0),
                                 _MAX_MEAN_LEVEL_RATIO)
    np.testing.assert_array_less(ratios[-1], _MAX_FINEST_LEVEL_RATIO)

  def test_carried_outputs_are_the_generation(self):
    _, last = _paired_levels()
    np.testing.assert_array_equal(last, _generated('exact'))

  def test_whole_generations_close_to_exact(self):
    stats = {search: _scores(_generated(search), _crop())
             for search in ('exact', 'patchmatch')}
    coherence_ratio, completeness_ratio = stats['patchmatch'] / stats['exact']
    print(f'patchmatch / exact: coherence {coherence_ratio:.3f}, '
          f'completeness {completeness_ratio:.3f}')
    self.assertLess(coherence_ratio, _MAX_COHERENCE_RATIO)
    self.assertLess(completeness_ratio, _MAX_COMPLETENESS_RATIO)

  def test_rejects_bad_searches(self):
    video = np.zeros((3, 16, 16, 3), np.float32)
    with self.assertRaisesRegex(ValueError, 'carry'):
      paired_search.level_outputs(_keys(), video, carry='patchmatch',
                                searches=('exact',))
    with self.assertRaisesRegex(ValueError, 'searches'):
      paired_search.level_outputs(_keys(), video,
                                  searches=('exact', 'kd-tree'))


if __name__ == '__main__':
  absltest.main()
