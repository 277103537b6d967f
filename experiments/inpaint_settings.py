"""How many levels an inpainting uses and how its hole starts, measured.

For each clip a box is hidden, refilled with each setting, and scored:
the hole's coherence (mean squared distance per value from the hole's 3x7x7
patches to their nearest input patch, `metrics.coherence` with the hole as
mask; lower is better), the same for a plain variation's unmasked patches
(the issue's yardstick: the hole within 1.5x of it), the mean absolute error
to the hidden truth (one plausible fill among many: a weak cue), and time.

    python experiments/inpaint_settings.py [--out experiments/results/inpaint_settings.md]
"""

import argparse
import pathlib
import time

import jax
import numpy as np

from vgpnn_jax import edit
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import metrics

DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'

# (name, file, max_size, frames, box (t0, t1, y0, y1, x0, x1) in read pixels)
CASES = (
    ('pedestrians', 'pedestrians_vtest.avi', 144, (0, 12), (0, 12, 40, 90, 60, 90)),
    ('speedway', 'speedway_cc0.mj2', 144, (0, 12), (0, 12, 60, 100, 70, 110)),
    ('tree', 'tree.avi', 144, (0, 12), (0, 12, 30, 70, 60, 110)),
)

SETTINGS = (
    # (label, overrides, start)
    ('5 levels, fill', dict(max_levels=5), 'fill'),
    ('8 levels, fill', dict(max_levels=8), 'fill'),
    ('10 levels, fill', dict(max_levels=10), 'fill'),
    ('all levels, fill', dict(max_levels=None), 'fill'),
    ('8 levels, fill + noise 1', dict(max_levels=8, noise_std=1.0), 'fill'),
    ('8 levels, grey start', dict(max_levels=8), 'grey'),
    ('10 levels, grey start', dict(max_levels=10), 'grey'),
)


def score(output, reference, mask, seed):
  """The coherence of `output`'s patches in `mask` against `reference`."""
  return float(metrics.coherence(output, reference, mask=mask,
                                 max_patches=4000, key=jax.random.key(seed)))


def load_case(case):
  """A `CASES` entry -> (name, [T, H, W, 3] video, [T, H, W] bool hole)."""
  name, file, max_size, (f0, f1), (t0, t1, y0, y1, x0, x1) = case
  video, _ = io.read_video(DATA / file, max_size=max_size, start=f0, stop=f1)
  hole = np.zeros(video.shape[:3], bool)
  hole[t0:t1, y0:y1, x0:x1] = True
  return name, video, hole


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', default=None)
  args = parser.parse_args()
  rows = []
  for case in CASES:
    name, video, hole = load_case(case)
    variation = np.asarray(jax.device_get(
        generation.generate(jax.random.key(0), video)))
    yard = score(variation, video, ~hole, 1)
    for label, overrides, start in SETTINGS:
      cue = None
      if start == 'grey':
        cue = np.full(video.shape, 0.5, np.float32)
      # Warm the compiled programs, then time a second key.
      edit.inpaint(jax.random.key(0), video, hole, cue=cue, **overrides)
      begin = time.perf_counter()
      out = np.asarray(jax.device_get(edit.inpaint(
          jax.random.key(1), video, hole, cue=cue, **overrides)))
      seconds = time.perf_counter() - begin
      coh = score(out, video, hole, 2)
      err = float(np.abs(out[hole] - video[hole]).mean())
      rows.append((name, label, coh, coh / yard, err, seconds))
      print(f'{name:12s} {label:28s} hole coherence {coh:.5f} '
            f'({coh / yard:.2f}x variation) error {err:.3f} {seconds:.1f} s',
            flush=True)
  lines = ['| clip | setting | hole coherence | / variation\'s | error to '
           'hidden truth | seconds (cached) |', '|---|---|---|---|---|---|']
  lines += [f'| {n} | {l} | {c:.5f} | {r:.2f} | {e:.3f} | {s:.1f} |'
            for n, l, c, r, e, s in rows]
  table = '\n'.join(lines)
  print(table)
  if args.out:
    pathlib.Path(args.out).write_text(
        '# Inpainting settings\n\n`python experiments/inpaint_settings.py '
        f'--out {args.out}` on {jax.devices()[0].device_kind} '
        f'({jax.default_backend()}).\n\n' + table + '\n')


if __name__ == '__main__':
  main()
