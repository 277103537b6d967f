"""Analogies and sketch-to-video on real footage, side by side, to look at.

Writes, under outputs/analogies/ (ignored by git), for every example a video
`<name>.mp4` (structure | its motion cue | appearance | result) and a still
`<name>.png` of its middle frame, and prints the time, how well the result
keeps the structure's motion (correlation of the two motion cues) and its
look (coherence against the appearance: lower is better).

    python experiments/analogy_examples.py [--only speedway_as_tree,...]
        [--stills experiments/results/stills]   # small JPEGs for the README

Examples (13 frames at 144 px, from ../shared/data; sources and licences in
its README):
  speedway_as_tree        motorway traffic rendered with tree foliage
  pedestrians_as_speedway people crossing a square, in the motorway's look
  airballoons_as_tree     the balloons' motion in tree.avi's look (the
                          issue's example; airballoons: no stills)
  speedway_sketch         a sketch of the motorway (4 flat colours) rendered
                          with the same road 4 seconds later
  disc_as_balloons        a drawn disc crossing sky and ground, rendered as
                          airballoons (no stills)
  image_analogy           one frame: the motorway's layout in the square's
                          patches (structural analogy, no motion cue)
"""

import argparse
import os
import pathlib
import time

import jax
import numpy as np

import edit_examples  # the same folder: its small-JPEG writer
from vgpnn_jax import analogy
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import motion
from vgpnn_jax import sketches

DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'
OUT = pathlib.Path(__file__).resolve().parents[1] / 'outputs' / 'analogies'


def _read(name, start=0, frames=13, size=144):
  return io.read_video(DATA / name, max_size=size, start=start,
                       stop=start + frames)


def speedway_as_tree():
  structure, fps = _read('speedway_cc0.mj2', start=20)
  return 'analogy', structure, _read('tree.avi')[0], fps


def pedestrians_as_speedway():
  structure, fps = _read('pedestrians_vtest.avi')
  return 'analogy', structure, _read('speedway_cc0.mj2', start=20)[0], fps


def airballoons_as_tree():
  structure, fps = _read('airballoons')
  return 'analogy', structure, _read('tree.avi')[0], fps


def speedway_sketch():
  road, fps = _read('speedway_cc0.mj2', start=20)
  drawing = np.asarray(sketches.from_video(road, 4))
  return 'sketch', drawing, _read('speedway_cc0.mj2', start=120)[0], fps


def disc_as_balloons():
  balloons, fps = _read('airballoons')
  # A balloon-sized disc (airballoons' balloons are 8-14 px across at 144).
  drawing = sketches.moving_disc(balloons.shape[:3], radius=0.045,
                                 start=(0.35, 0.15), end=(0.3, 0.8),
                                 sky=(0.55, 0.6, 0.7), ground=(0.3, 0.25, 0.2),
                                 disc=(0.45, 0.15, 0.1))
  return 'sketch', drawing, balloons, fps


def image_analogy():
  structure, _ = _read('speedway_cc0.mj2', start=20, frames=1)
  appearance, _ = _read('pedestrians_vtest.avi', frames=1)
  return 'analogy', structure, appearance, 1.0


EXAMPLES = {f.__name__: f for f in (speedway_as_tree, pedestrians_as_speedway,
                                    airballoons_as_tree, speedway_sketch,
                                    disc_as_balloons, image_analogy)}
# airballoons may not be redistributed (../shared/data/README.md).
NO_STILLS = ('airballoons_as_tree', 'disc_as_balloons')


def _cue_correlation(a, b):
  if a.shape[0] < 2:
    return float('nan')
  cue = lambda v: np.asarray(
      motion.motion_cue(v, **analogy.CUE_FLOW)).ravel()
  return float(np.corrcoef(cue(a), cue(b))[0, 1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--only', default=','.join(EXAMPLES))
  parser.add_argument('--out', default=str(OUT))
  parser.add_argument('--stills', default=None,
                      help='also write a small JPEG of each still here')
  args = parser.parse_args()
  jax.config.update('jax_compilation_cache_dir', os.environ.get(
      'VGPNN_JAX_CACHE', str(pathlib.Path.home() / '.cache' / 'vgpnn_jax')))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.2)
  out_dir = io.ensure_writable_dir(args.out)
  print('| example | size | seconds | cue correlation | coherence vs '
        'appearance (structure itself) |\n|---|---|---|---|---|')
  for name in args.only.split(','):
    kind, structure, appearance, fps = EXAMPLES[name]()
    render = analogy.sketch if kind == 'sketch' else analogy.analogy
    start = time.perf_counter()
    result = np.asarray(jax.device_get(render(jax.random.key(0), structure,
                                              appearance)))
    seconds = time.perf_counter() - start
    panels = [structure]
    if structure.shape[0] > 1:
      panels.append(np.asarray(motion.motion_cue(structure,
                                                 **analogy.CUE_FLOW)))
    panels += [np.asarray(analogy.fit_appearance(appearance,
                                                 structure.shape[:3])),
               result]
    grid = io.make_grid(panels)
    io.write_video(out_dir / f'{name}.mp4', grid, fps=fps)
    still = grid[grid.shape[0] // 2]
    io.write_video(out_dir / f'{name}.png', still[None], fps=1)
    if args.stills and name not in NO_STILLS:
      edit_examples.write_small_jpeg(
          pathlib.Path(args.stills) / f'{name}.jpg', still)
    patch = (min(3, appearance.shape[0]), 5, 5)
    score = lambda v: float(metrics.coherence(
        v, appearance, max_patches=4000, key=jax.random.key(1),
        patch_size=patch))
    t, h, w = structure.shape[:3]
    print(f'| {name} | {t}x{h}x{w} | {seconds:.1f} | '
          f'{_cue_correlation(result, structure):.2f} | '
          f'{score(result):.4f} ({score(structure):.4f}) |', flush=True)


if __name__ == '__main__':
  main()
