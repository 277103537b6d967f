"""Generation time of two checkouts of this code, run alternately.

On a shared machine the speed of one build moves by 10-30% from one minute to
the next, so two builds timed an hour apart cannot be compared. This runs
each build in its own subprocess, one after the other, for a few rounds:
every subprocess compiles in memory, makes one warm-up generation, then
times `--runs` generations (keys 1, 2, ...) of the bundled sample, so only
the generation itself is timed. It prints one table row per subprocess and
the ratio of the median times.

    git worktree add /tmp/old 167cf21
    python experiments/compare_builds.py /tmp/old . --rounds 2
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def time_build(root: str, case: str, runs: int) -> list[float]:
  """Seconds of `runs` warm generations with the package found in `root`."""
  sys.path.insert(0, os.path.abspath(root))
  import jax  # pylint: disable=g-import-not-at-top
  import bench  # pylint: disable=g-import-not-at-top
  from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top
  # The bench's case video, read and resized by the build under test.
  video = jax.numpy.asarray(bench.case_video(
      bench.SAMPLE, *(int(v) for v in case.split('x'))))
  generation.generate(jax.random.key(0), video).block_until_ready()
  seconds = []
  for run in range(runs):
    start = time.perf_counter()
    generation.generate(jax.random.key(run + 1), video).block_until_ready()
    seconds.append(time.perf_counter() - start)
  return seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('old', help='checkout (folder holding vgpnn_jax/)')
  parser.add_argument('new', help='checkout (folder holding vgpnn_jax/)')
  parser.add_argument('--case', default='13x144x256', help='TxHxW')
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--runs', type=int, default=2,
                      help='timed generations per subprocess')
  parser.add_argument('--one', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:
    print(json.dumps(time_build(args.one, args.case, args.runs)))
    return
  times = {'old': [], 'new': []}
  print('| round | build | seconds per generation |')
  print('|---|---|---|')
  for round_index in range(args.rounds):
    for name in ('old', 'new'):
      out = subprocess.run(
          [sys.executable, __file__, args.old, args.new, '--one',
           getattr(args, name), '--case', args.case, '--runs',
           str(args.runs)], check=True, capture_output=True, text=True)
      seconds = json.loads(out.stdout.strip().splitlines()[-1])
      times[name] += seconds
      print(f'| {round_index} | {name} ({getattr(args, name)}) | '
            f'{" ".join(f"{s:.2f}" for s in seconds)} |', flush=True)
  ratio = statistics.median(times['new']) / statistics.median(times['old'])
  print(f'\nmedian new / median old: {ratio:.3f}')


if __name__ == '__main__':
  main()
