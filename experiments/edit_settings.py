"""At which level a rough edit enters, measured.

On the edit examples of `edit_examples.py` (a car copied into the next
lane, a balloon moved), `edit.edit` runs with the edit entering at several
levels. Scored: how much of the edit the pasted region keeps (mean absolute
difference to the edit over that to the original there: below 1 keeps the
edit, lower keeps more), and the output's coherence against the original
(`metrics.coherence`; the raw edit's seams make it higher, lower is better).

    python experiments/edit_settings.py [--levels 3,5,7,9]
"""

import argparse
import time

import jax
import numpy as np

import edit_examples
from vgpnn_jax import edit
from vgpnn_jax import metrics


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--levels', default='3,5,7,9')
  parser.add_argument('--only', default='speedway_add,airballoons_move')
  args = parser.parse_args()
  print('| example | level | keeps the edit (to edit / to original) | '
        'coherence (raw edit) | seconds |')
  print('|---|---|---|---|---|')
  for name in args.only.split(','):
    _, video, _, edited, _ = edit_examples.EXAMPLES[name]()
    region = np.any(np.abs(edited - video) > 0.1, axis=-1)
    score = lambda v: float(metrics.coherence(
        v, video, max_patches=4000, key=jax.random.key(1)))
    raw = score(edited)
    for level in (int(v) for v in args.levels.split(',')):
      start = time.perf_counter()
      out = np.asarray(jax.device_get(edit.edit(
          jax.random.key(0), video, edited, max_levels=level)))
      seconds = time.perf_counter() - start
      keeps = (np.abs(out[region] - edited[region]).mean() /
               np.abs(out[region] - video[region]).mean())
      print(f'| {name} | {level} | {keeps:.2f} | {score(out):.5f} '
            f'({raw:.5f}) | {seconds:.1f} |', flush=True)


if __name__ == '__main__':
  main()
