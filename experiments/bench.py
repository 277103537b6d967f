"""End-to-end speed and memory of generation, as one table.

Each case runs in a fresh subprocess (so peak memory and compilation are its
own) on a real video (the bundled sample by default) resized to the case's
size, and reports the seconds per pyramid level, the generation time and the
whole process's time (import, read, compile, run), the peak resident memory,
voxels per second, and the time of a fixed 2048x2048 float32 NumPy matrix
product in the same process, so that figures from different days and
machines compare as ratios.

    python experiments/bench.py                       # the 144x256 cases
    python experiments/bench.py --cases 13x144x256,13x720x1280 --search auto
    python experiments/bench.py --cache /tmp/jaxcache # second run: no compile
    python experiments/bench.py --guards 1,2 --seeds 0,1 # the guard's cost
    python experiments/bench.py --nums 1,4,16 --modes vmap,loop  # batches

`--nums` runs each case with that many variations; `--modes` makes them in
one vmapped `generate_batch` call ('vmap') or one `generate` call per key in
the same process ('loop': compiled once, reused), to see whether a batch pays.

Cases are TxHxW; `--search` picks the search (auto by default). With `--cache`
the persistent compilation cache is used: run twice to see the cached time.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(_ROOT, 'vgpnn_jax', 'data', 'bunny.mp4')


def _matmul_seconds() -> float:
  rng = np.random.default_rng(0)
  a = rng.standard_normal((2048, 2048), dtype=np.float32)
  b = rng.standard_normal((2048, 2048), dtype=np.float32)
  a @ b
  start = time.perf_counter()
  for _ in range(3):
    a @ b
  return (time.perf_counter() - start) / 3


def case_video(path: str, frames: int, height: int, width: int):
  """The video at `path` at the case size.

  Its first `frames` frames, resized in space; a video with fewer frames is
  resized in time too (frames blended), as the bundled 13-frame sample is for
  longer cases.
  """
  from vgpnn_jax import resampling  # pylint: disable=g-import-not-at-top
  if path.endswith('.npy'):  # frames saved by NumPy: no ffmpeg needed
    video = np.load(path)
    if video.dtype == np.uint8:
      video = video.astype(np.float32) / 255
  else:
    from vgpnn_jax import io  # pylint: disable=g-import-not-at-top
    video, _ = io.read_video(path)
  if video.shape[0] >= frames:
    video = video[:frames]
  if video.shape[:3] == (frames, height, width):
    return video
  return np.asarray(resampling.resize(video, (frames, height, width)))


def run_case(case: str, search: str, num: int, cache: str | None,
             video_path: str, seed: int = 0,
             alpha: float | str | None = None, guard: int | None = None,
             mode: str = 'vmap') -> dict:
  """Runs one case in this process; returns its measurements."""
  import jax  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, _ROOT)
  from vgpnn_jax import cli  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  if cache:
    jax.config.update('jax_compilation_cache_dir', cache)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.2)
  frames, height, width = (int(v) for v in case.split('x'))
  video = case_video(video_path, frames, height, width)
  matmul = _matmul_seconds()
  overrides = {} if guard is None else {'layout_draws': guard}
  config = generation.make_config(search=search, **overrides,
                                  **cli.alpha_overrides(alpha))
  levels = generation.plan_levels(video.shape[:3], config)
  times = []
  last = [time.perf_counter()]

  def progress(done, num_levels, level, output):
    jax.block_until_ready(output)
    now = time.perf_counter()
    times.append(now - last[0])
    last[0] = now

  start = time.perf_counter()
  keys = jax.random.split(jax.random.key(seed), num)
  if mode == 'vmap':
    jax.block_until_ready(generation.generate_batch(keys, video, config,
                                                    progress=progress))
  else:
    for key in keys:
      jax.block_until_ready(generation.generate(key, video, config,
                                                progress=progress))
  total = time.perf_counter() - start
  peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return {
      'case': case, 'search': search, 'num': num, 'seed': seed, 'mode': mode,
      'guard': config.layout_draws,
      'levels': len(levels), 'level_seconds': times, 'total_seconds': total,
      'peak_gib': peak_kib / 2**20,
      'voxels_per_second': num * frames * height * width / total,
      'matmul_seconds': matmul,
      'searches': [l.search for l in reversed(levels)],
  }


def main() -> None:
  sys.path.insert(0, _ROOT)
  from vgpnn_jax import cli  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--cases', default='13x144x256',
                      help='comma-separated TxHxW cases')
  parser.add_argument('--search', default='auto',
                      choices=('auto', 'exact', 'patchmatch'))
  parser.add_argument('--nums', default='1',
                      help='comma-separated variation counts: each case runs '
                      'once per count')
  parser.add_argument('--num', type=int, default=None, help=argparse.SUPPRESS)
  parser.add_argument('--modes', default='vmap',
                      help="comma-separated: 'vmap' (one generate_batch "
                      "call) and/or 'loop' (generate per key)")
  parser.add_argument('--mode', default='vmap', help=argparse.SUPPRESS)
  parser.add_argument('--seeds', default='0',
                      help='comma-separated seeds: each case runs once per '
                      'seed (variations differ in cost: an incoherent one '
                      'folds slower)')
  parser.add_argument('--seed', type=int, default=0, help=argparse.SUPPRESS)
  parser.add_argument('--cache', default=None,
                      help='persistent compilation cache folder')
  parser.add_argument('--video', default=SAMPLE,
                      help='input video (or a .npy array [T, H, W, 3], uint8 '
                      'or float in [0, 1]); each case takes its first T '
                      'frames, resized to H x W (default: the bundled '
                      '13x144x256 sample)')
  parser.add_argument('--alpha', type=cli.parse_alpha, default=None,
                      help='the completeness term (Config.alpha), "none" '
                      'for off; default: the library\'s')
  parser.add_argument('--guards', default=None,
                      help='comma-separated structure-guard draws '
                      '(Config.layout_draws), each case run with each, '
                      'alternating; default: the library\'s')
  parser.add_argument('--guard', type=int, default=None,
                      help=argparse.SUPPRESS)
  parser.add_argument('--one', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:  # the subprocess side
    print(json.dumps(run_case(args.one, args.search, args.num, args.cache,
                              args.video, args.seed, args.alpha,
                              args.guard, args.mode)))
    return
  rows = []
  guards = [None] if args.guards is None else args.guards.split(',')
  runs = [(case, seed, guard, num, mode) for case in args.cases.split(',')
          for num in args.nums.split(',') for mode in args.modes.split(',')
          for seed in args.seeds.split(',') for guard in guards]
  for case, seed, guard, num, mode in runs:
    command = [sys.executable, __file__, '--one', case, '--search',
               args.search, '--num', num, '--mode', mode, '--video',
               args.video, '--seed', seed]
    if args.cache:
      command += ['--cache', args.cache]
    if args.alpha is not None:
      command += ['--alpha', str(args.alpha)]
    if guard is not None:
      command += ['--guard', guard]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True,
                            check=False)
    wall = time.perf_counter() - started
    if result.returncode:
      print(f'{case}: failed\n{result.stderr[-2000:]}', file=sys.stderr)
      continue
    rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    rows[-1]['wall_seconds'] = wall
  print('| case | mode | seed | guard | search | levels | generate s | '
        's / variation | process s | peak GiB | '
        'voxels/s | numpy 2048^2 matmul s | generate / matmul | s per level, '
        'coarse to fine |')
  print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for r in rows:
    per_level = ' '.join(f'{t:.1f}' for t in r['level_seconds'])
    print(f"| {r['case']} x{r['num']} | {r['mode']} | {r['seed']} | "
          f"{r['guard']} | {r['search']} | {r['levels']} | "
          f"{r['total_seconds']:.1f} | {r['total_seconds'] / r['num']:.2f} | "
          f"{r['wall_seconds']:.1f} | "
          f"{r['peak_gib']:.2f} | "
          f"{r['voxels_per_second']:.3g} | {r['matmul_seconds']:.3f} | "
          f"{r['total_seconds'] / r['matmul_seconds']:.0f} | {per_level} |")
  if len({r['case'] for r in rows}) >= 2:
    voxels = [math.prod(int(v) for v in r['case'].split('x')) for r in rows]
    slope = np.polyfit(np.log(voxels), np.log([r['total_seconds']
                                               for r in rows]), 1)[0]
    print(f'\ntime grows as voxels^{slope:.2f} over these cases')


if __name__ == '__main__':
  main()
