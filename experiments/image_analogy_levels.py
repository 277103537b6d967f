"""Image analogies (GPNN's structural analogy): how many levels keep A's layout.

For three pairs of frames (structure A -> appearance B, 144 px high) runs
`analogy.analogy` with several level counts and completeness settings and
prints, per run, how well the output keeps A's layout (Pearson correlation of
the grey images at 12 px high, higher is better) and B's look (coherence
against B on 1x7x7 patches, lower is better).

    python experiments/image_analogy_levels.py
"""

import os
import pathlib

import jax
import numpy as np

from vgpnn_jax import analogy
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import resampling

DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'
PAIRS = {'speedway -> pedestrians': ('speedway_cc0.mj2',
                                     'pedestrians_vtest.avi'),
         'pedestrians -> tree': ('pedestrians_vtest.avi', 'tree.avi'),
         'tree -> speedway': ('tree.avi', 'speedway_cc0.mj2')}
SETTINGS = (dict(max_levels=9, alpha=1.0), dict(max_levels=9, alpha=None),
            dict(max_levels=7, alpha=None), dict(max_levels=6, alpha=None),
            dict(max_levels=6, alpha=1.0), dict(max_levels=5, alpha=None))


def _layout(image):
  """The grey image at 12 px high, flattened."""
  grey = image.mean(-1, keepdims=True)
  size = (1, 12, round(12 * image.shape[2] / image.shape[1]), 1)
  return np.asarray(resampling.resize(grey, size)).ravel()


def main():
  jax.config.update('jax_compilation_cache_dir', os.environ.get(
      'VGPNN_JAX_CACHE', str(pathlib.Path.home() / '.cache' / 'vgpnn_jax')))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.2)
  print('| pair | levels | alpha | layout r | coherence |\n|---|---|---|---|---|')
  for name, (a, b) in PAIRS.items():
    structure, _ = io.read_video(DATA / a, max_size=144, start=20, stop=21)
    appearance, _ = io.read_video(DATA / b, max_size=144, start=20, stop=21)
    fitted = analogy.fit_appearance(appearance, structure.shape[:3])
    for options in SETTINGS:
      out = np.asarray(analogy.analogy(jax.random.key(0), structure,
                                       appearance, **options))
      r = np.corrcoef(_layout(out), _layout(structure))[0, 1]
      coherence = float(metrics.coherence(
          out, fitted, patch_size=(1, 7, 7), max_patches=3000,
          key=jax.random.key(1)))
      print(f'| {name} | {options["max_levels"]} | {options["alpha"]} | '
            f'{r:.2f} | {coherence:.4f} |', flush=True)


if __name__ == '__main__':
  main()
