"""What pricing an inpainting's levels by their hole box changes, measured.

`search='auto'` picks exact search for a level whose exact cost fits
`auto_exact_flops`. An inpainting searches only the box around its hole, so
its levels are priced by that box; before, they were priced by the whole
output and took PatchMatch at the fine levels. Both plans run here in one
process on the clips of inpaint_settings.py (the old one by dropping the box
sizes from `plan_levels`): the hole's coherence (lower is better), the
number of exact levels, and the cached seconds.

    python experiments/inpaint_auto_search.py [--seeds 1,2,3]
"""

import argparse
import pathlib
import sys
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
import inpaint_settings
from vgpnn_jax import edit
from vgpnn_jax import generation


def _whole_output_plan(plan):
  """`plan_levels` as it was: every level priced by its whole output."""
  def plan_levels(size, config, channels=3, searched_sizes=None):
    del searched_sizes
    return plan(size, config, channels)
  return plan_levels


def _inpaint(video, hole, seed):
  """Returns (output [T, H, W, C], searches per level, seconds)."""
  searches = {}
  def progress(done, num, level, output):
    del done, num, output
    searches[level.output_size] = level.search
  begin = time.perf_counter()
  out = np.asarray(jax.device_get(edit.inpaint(
      jax.random.key(seed), video, hole, progress=progress)))
  return out, list(searches.values()), time.perf_counter() - begin


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--seeds', default='1,2,3')
  args = parser.parse_args()
  seeds = [int(s) for s in args.seeds.split(',')]
  plan = generation.plan_levels
  plans = (('whole output', _whole_output_plan(plan)), ('hole box', plan))
  print('| clip | levels priced by | exact levels | hole coherence (mean of '
        f'{len(seeds)} seeds) | seconds (cached, mean) |')
  print('|---|---|---|---|---|')
  for name, file, max_size, (f0, f1), box in inpaint_settings.CASES:
    video, _ = inpaint_settings.io.read_video(
        inpaint_settings.DATA / file, max_size=max_size, start=f0, stop=f1)
    t0, t1, y0, y1, x0, x1 = box
    hole = np.zeros(video.shape[:3], bool)
    hole[t0:t1, y0:y1, x0:x1] = True
    for label, plan_levels in plans:
      generation.plan_levels = plan_levels
      try:
        _inpaint(video, hole, 0)  # compiles
        runs = [_inpaint(video, hole, seed) for seed in seeds]
      finally:
        generation.plan_levels = plan
      coherence = np.mean([inpaint_settings._score(out, video, hole, 2)  # pylint: disable=protected-access
                           for out, _, _ in runs])
      exact = sum(s == 'exact' for s in runs[0][1])
      seconds = np.mean([s for _, _, s in runs])
      print(f'| {name} | {label} | {exact} of {len(runs[0][1])} | '
            f'{coherence:.5f} | {seconds:.1f} |', flush=True)


if __name__ == '__main__':
  main()
