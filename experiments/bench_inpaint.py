"""Cost follows the hole: one fixed-size hole at two frame sizes.

For each frame size, in one fresh subprocess, a real clip (30 frames of
pedestrians_vtest.avi by default) is read at that size; the same box of
pixels (a person's size at 288x384) is inpainted, and a variation of the
same clip and pyramid depth is generated as the reference. Each is run
twice: the first run compiles (with an empty compilation cache), the
second is the cached time. Reported: seconds (cached), peak resident memory
of the process, and the inpainting's time over the variation's.

    python experiments/bench_inpaint.py [--sizes 144x192,288x384] [--frames 30]
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

_ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = _ROOT.parent / 'shared' / 'data' / 'pedestrians_vtest.avi'


def _case(path, frames, height, box_hw, levels):
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import edit  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
  video, _ = io.read_video(path, max_size=height, stop=frames)
  t, h, w = video.shape[:3]
  bh, bw = box_hw
  hole = np.zeros((t, h, w), bool)
  hole[:, h // 2 - bh // 2:h // 2 + bh // 2,
       w // 3 - bw // 2:w // 3 + bw // 2] = True
  times = {}
  for name, run in (
      ('inpaint', lambda key: edit.inpaint(key, video, hole,
                                           max_levels=levels)),
      ('variation', lambda key: generation.generate(key, video,
                                                    max_levels=levels))):
    seconds = []
    for seed in range(2):
      start = time.perf_counter()
      jax.block_until_ready(run(jax.random.key(seed)))
      seconds.append(time.perf_counter() - start)
    times[name] = seconds
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
  return {'size': f'{t}x{h}x{w}', 'hole': f'{t}x{bh}x{bw}', 'times': times,
          'peak_gib': peak, 'device': jax.devices()[0].device_kind}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--sizes', default='144x192,288x384')
  parser.add_argument('--frames', type=int, default=30)
  parser.add_argument('--box', default='80x40', help='hole HxW in pixels')
  parser.add_argument('--levels', type=int, default=None,
                      help='pyramid levels (default: the inpainting\'s)')
  parser.add_argument('--video', default=str(DATA))
  parser.add_argument('--case', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  box = tuple(int(v) for v in args.box.split('x'))
  if args.case:
    from vgpnn_jax import edit  # pylint: disable=g-import-not-at-top
    levels = args.levels or edit.INPAINT_DEFAULTS['max_levels']
    print(json.dumps(_case(args.video, args.frames, int(args.case), box,
                           levels)))
    return
  rows = []
  for size in args.sizes.split(','):
    height = int(size.split('x')[0])
    with tempfile.TemporaryDirectory() as cache:
      env = dict(os.environ, VGPNN_JAX_CACHE=cache,
                 PYTHONPATH=str(_ROOT))
      command = [sys.executable, __file__, '--case', str(height), '--frames',
                 str(args.frames), '--box', args.box, '--video', args.video]
      if args.levels:
        command += ['--levels', str(args.levels)]
      out = subprocess.run(command, env=env, check=True, capture_output=True,
                           text=True).stdout
    rows.append(json.loads(out.strip().splitlines()[-1]))
    print(rows[-1], flush=True)
  print(f'\n{rows[0]["device"]}, {os.cpu_count()} cores; first run '
        f'compiles, second is cached\n')
  print('| video | hole | inpaint s (1st / cached) | variation s (1st / '
        'cached) | inpaint / variation (cached) | peak GiB |')
  print('|---|---|---|---|---|---|')
  for row in rows:
    inp, var = row['times']['inpaint'], row['times']['variation']
    print(f'| {row["size"]} | {row["hole"]} | {inp[0]:.1f} / {inp[1]:.1f} | '
          f'{var[0]:.1f} / {var[1]:.1f} | {inp[1] / var[1]:.2f} | '
          f'{row["peak_gib"]:.1f} |')


if __name__ == '__main__':
  main()
