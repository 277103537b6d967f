"""Estimated against measured peak memory of generation, as one table.

Each case runs `generate_batch` (as the command line does) in a fresh
subprocess on a synthetic video of the case's size; its peak resident memory
is the child's `ru_maxrss` (from `os.wait4`), compared with
`memory.estimate_bytes` of the same plan. The "fixed" column is the part of
the estimate that does not depend on the video (process, compilation).

    python experiments/bench_memory.py                   # 13x144x256, x1 and x4
    python experiments/bench_memory.py --cases 7x48x80,13x144x256 --nums 1,2 \
        --max-levels 2 --iters 1                         # quicker runs
    python experiments/bench_memory.py --cases 30x360x640,13x720x1280 \
        --nums 1,4 --estimate-only                       # too long to run here
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)

from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top,wrong-import-position


def _synthetic_video(frames: int, height: int, width: int):
  """The smooth moving pattern of experiments/bench.py, [T, H, W, 3]."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  t = np.arange(frames)[:, None, None, None]
  y = np.arange(height)[None, :, None, None] / height
  x = np.arange(width)[None, None, :, None] / width
  phase = np.array([0.0, 2.0, 4.0])
  video = (0.5 + 0.25 * np.sin(9 * x + 5 * y + 0.3 * t + phase) +
           0.2 * np.sin(23 * x * y + 0.5 * t + 2 * phase) *
           np.cos(13 * y - 0.2 * t))
  return np.clip(video, 0, 1).astype(np.float32)


def _size(case: str) -> tuple[int, int, int]:
  return tuple(int(v) for v in case.split('x'))


def _config(args: argparse.Namespace) -> generation.Config:
  overrides = {'search': args.search}
  if args.max_levels is not None:
    overrides['max_levels'] = args.max_levels
  if args.iters is not None:
    overrides['num_iters'] = args.iters
  return generation.make_config(**overrides)


def run_case(case: str, num: int, config: generation.Config) -> dict:
  """Generates `num` variations of a `case` video in this process."""
  import jax  # pylint: disable=g-import-not-at-top
  video = _synthetic_video(*_size(case))
  start = time.perf_counter()
  keys = jax.random.split(jax.random.key(0), num)
  jax.block_until_ready(generation.generate_batch(keys, video, config))
  return {'seconds': time.perf_counter() - start}


def measure(case: str, num: int, args: argparse.Namespace) -> dict:
  """Runs one case in a subprocess: its seconds and peak RSS in bytes."""
  command = [sys.executable, os.path.abspath(__file__), '--one', case,
             '--nums', str(num), '--search', args.search]
  if args.max_levels is not None:
    command += ['--max-levels', str(args.max_levels)]
  if args.iters is not None:
    command += ['--iters', str(args.iters)]
  return run_measured(command, f'{case} x{num}')


def run_measured(command: list[str], what: str) -> dict:
  """Runs `command` (a script printing a JSON line last) in a subprocess.

  Shared with bench_windows.py.

  Returns:
    The JSON of its last line, plus 'peak_bytes': the child's peak RSS.
  """
  with tempfile.TemporaryFile('w+') as errors:
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors,
                             text=True)
    stdout = child.stdout.read()
    # os.wait4 reaps the child and returns its own resource usage (Popen's
    # wait would reap it without).
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    if child.returncode:
      errors.seek(0)
      raise RuntimeError(f'{what} failed:\n{errors.read()[-3000:]}')
  result = json.loads(stdout.strip().splitlines()[-1])
  result['peak_bytes'] = usage.ru_maxrss * 1024  # Linux counts KiB
  return result


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--cases', default='13x144x256',
                      help='comma-separated TxHxW cases')
  parser.add_argument('--nums', default='1,4',
                      help='comma-separated numbers of variations per case')
  parser.add_argument('--search', default='auto',
                      choices=('auto', 'exact', 'patchmatch'))
  parser.add_argument('--max-levels', type=int, default=None,
                      help='keep only this many finest levels (quicker)')
  parser.add_argument('--iters', type=int, default=None,
                      help='iterations per level (quicker)')
  parser.add_argument('--estimate-only', action='store_true',
                      help='print the estimates without running anything')
  parser.add_argument('--one', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  config = _config(args)
  if args.one:  # the subprocess side
    print(json.dumps(run_case(args.one, int(args.nums), config)))
    return
  gib = 2.0**30
  print('| case | levels | estimate GiB | of which fixed GiB | measured peak '
        'RSS GiB | estimate / measured | run s |')
  print('|---|---|---|---|---|---|---|')
  for case in args.cases.split(','):
    levels = generation.plan_levels(_size(case), config, 3)
    for num in (int(n) for n in args.nums.split(',')):
      estimate = memory.estimate_bytes(levels, 3, num,
                                       chunk_size=config.chunk_size)
      fixed = memory._fixed_bytes(levels, 'cpu')  # pylint: disable=protected-access
      row = f'| {case} x{num} | {len(levels)} | {estimate / gib:.2f} | '
      row += f'{fixed / gib:.2f} | '
      if args.estimate_only:
        print(row + '- | - | - |', flush=True)
        continue
      result = measure(case, num, args)
      peak = result['peak_bytes']
      print(row + f'{peak / gib:.2f} | {estimate / peak:.2f} | '
            f'{result["seconds"]:.0f} |', flush=True)


if __name__ == '__main__':
  main()
