"""Quality of PatchMatch generation against exact search (issue 4, point 4).

Both searches generate variations of a small crop of the bundled sample with
the same keys; the patch statistics of DESIGN.md §3 must stay within measured
bounds of each other.
"""

import pathlib

from absl.testing import absltest
import jax
import numpy as np

from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import resampling

_SAMPLE = pathlib.Path(__file__).parent.parent / 'vgpnn_jax' / 'data' / (
    'bunny.mp4')
# PatchMatch / exact, measured on this test's input (3 samples): coherence
# 0.84, completeness 0.68; on a 9x45x80 crop 1.10 and 1.45. Three samples
# vary: the bounds are what PatchMatch must never exceed, not the target.
_MAX_COHERENCE_RATIO = 1.25
_MAX_COMPLETENESS_RATIO = 1.6


class PatchMatchQualityTest(absltest.TestCase):

  def test_patchmatch_statistics_close_to_exact(self):
    video, _ = io.read_video(_SAMPLE)
    small = np.asarray(resampling.resize(video, (7, 30, 52)))
    keys = jax.random.split(jax.random.key(0), 3)
    stats = {}
    for search in ('exact', 'patchmatch'):
      outputs = generation.generate_batch(keys, small, search=search,
                                          min_side=15)
      stats[search] = [
          np.mean([float(metrics.coherence(o, small)) for o in outputs]),
          np.mean([float(metrics.completeness(o, small)) for o in outputs])]
    coherence_ratio = stats['patchmatch'][0] / stats['exact'][0]
    completeness_ratio = stats['patchmatch'][1] / stats['exact'][1]
    print(f'patchmatch / exact: coherence {coherence_ratio:.3f}, '
          f'completeness {completeness_ratio:.3f}')
    self.assertLess(coherence_ratio, _MAX_COHERENCE_RATIO)
    self.assertLess(completeness_ratio, _MAX_COMPLETENESS_RATIO)


if __name__ == '__main__':
  absltest.main()
