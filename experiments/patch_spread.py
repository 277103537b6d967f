"""How much the clips' own patch scale differs: the case for noise per clip.

For every clip (13 frames at 144 px high) prints the coarsest level of the
default pyramid, its `noise.patch_spread` (mean distance from a patch to its
nearest non-overlapping patch, per value) and its contrast (grey std), and
what the default fixed noise (Config().noise_std) is in units of each: if
the ratio differs several-fold between clips, one sigma cannot suit them all
(issue 18).

    python experiments/patch_spread.py [--out experiments/results/patch_spread.md]
"""

import argparse
import pathlib
import sys

import jax
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))

# pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import noise
from vgpnn_jax import pyramid

DATA = REPO.parent / 'shared' / 'data'
FRAMES = 13
# (name, path under DATA, first frame)
CLIPS = tuple((name, f'singangif/{name}_gt.mp4', 0) for name in (
    'birds', 'cliff', 'desert', 'seashore', 'waterfall')) + (
        ('airballoons', 'airballoons', 0),
        ('bunny (bundled)', None, 0),
        ('pedestrians', 'pedestrians_vtest.avi', 0),
        ('speedway', 'speedway_cc0.mj2', 20),
        ('tree', 'tree.avi', 0),
        ('bigbuckbunny', 'bigbuckbunny_720p.mp4', 40))


def _read(path, start):
  if path is None:
    path = REPO / 'vgpnn_jax' / 'data' / 'bunny.mp4'
  else:
    path = DATA / path
  video, _ = io.read_video(path, max_size=144, start=start,
                           stop=start + FRAMES)
  return video


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', default=None)
  args = parser.parse_args()
  config = generation.Config()
  lines = ['| clip | frames x size | coarsest level | patch spread | grey '
           'std | noise_std / spread | noise_std / std |',
           '|---|---|---|---|---|---|---|']
  for name, path, start in CLIPS:
    video = _read(path, start)
    levels = generation.plan_levels(video.shape[:3], config)
    coarsest = levels[-1]
    level = pyramid.build_pyramid(jax.numpy.asarray(video),
                                  sizes=(coarsest.input_size,))[0]
    spread = float(noise.patch_spread(level, coarsest.patch_size))
    grey = float(np.std(np.asarray(level).mean(-1)))
    t, h, w = video.shape[:3]
    ct, ch, cw = coarsest.input_size
    lines.append(f'| {name} | {t}x{h}x{w} | {ct}x{ch}x{cw} | {spread:.4f} | '
                 f'{grey:.4f} | {config.noise_std / spread:.0f} | '
                 f'{config.noise_std / grey:.0f} |')
    print(lines[-1], flush=True)
  table = '\n'.join(lines)
  if args.out:
    pathlib.Path(args.out).write_text(
        '# Patch spread of the clips\n\n`python experiments/patch_spread.py '
        f'--out {args.out}`; default pyramid (Config()), 13 frames at 144 '
        'px high.\n\n' + table + '\n')


if __name__ == '__main__':
  main()
