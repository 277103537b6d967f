"""How close `generate --dry-run`'s time estimate comes to the time of a run.

For a few sizes of the bundled sample, runs the command line: `--dry-run`
for the estimate, then `generate` twice (the first compiles into a fresh
cache, the second is the measured, cached run, as the estimate assumes), and
writes experiments/results/dry_run_estimate.md.

  python experiments/dry_run_estimate.py [--sizes 72,144,144x2] [--num 1]

A size is a height (--max-size) with an optional xK: K times the frames
(--scale K,1,1).
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

_ROOT = pathlib.Path(__file__).resolve().parents[1]
_RESULTS = _ROOT / 'experiments' / 'results' / 'dry_run_estimate.md'


def _cli(args, cache):
  """The printed output of `python -m vgpnn_jax ARGS` and its seconds."""
  env = dict(os.environ, VGPNN_JAX_CACHE=str(cache),
             PYTHONPATH=str(_ROOT))
  start = time.perf_counter()
  done = subprocess.run([sys.executable, '-m', 'vgpnn_jax', *args], env=env,
                        capture_output=True, text=True, check=True)
  return done.stdout, time.perf_counter() - start


def _case(size: str, num: int, work: pathlib.Path) -> dict:
  height, _, times = size.partition('x')
  args = ['generate', '--num', str(num), '--max-size', height, '--out',
          str(work / size), '--overwrite', '--quiet']
  if times:
    args += ['--scale', f'{times},1,1']
  cache = work / f'cache-{size}'
  printed, _ = _cli(args + ['--dry-run'], cache)
  estimate = float(re.search(r'time estimate: about (\d+) s', printed)[1])
  frames = re.search(r'output\(s\) of (\d+) frames of (\d+x\d+)', printed)
  _, first = _cli(args, cache)  # compiles
  printed, _ = _cli(args, cache)
  measured = float(re.search(r'\(generation ([\d.]+) s\)', printed)[1])
  return dict(size=f'{frames[1]}x{frames[2]}', estimate=estimate,
              measured=measured, first=first)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='72,108,144,144x2')
  parser.add_argument('--num', type=int, default=1)
  args = parser.parse_args()
  rows = []
  with tempfile.TemporaryDirectory() as work:
    for size in args.sizes.split(','):
      row = _case(size, args.num, pathlib.Path(work))
      rows.append(row)
      print(f"{row['size']}: estimated {row['estimate']:.0f} s, measured "
            f"{row['measured']:.1f} s (first run {row['first']:.0f} s)",
            flush=True)
  lines = [
      '# `--dry-run` time estimate against the measured time',
      '',
      f'`python experiments/dry_run_estimate.py --sizes {args.sizes} --num '
      f'{args.num}`: the bundled sample at each size, default settings '
      '(auto search, structure guard on). Estimated: the `time estimate` '
      'line of `generate --dry-run` (`vgpnn_jax/timing.py`); measured: the '
      '`generation` seconds of a second run (reading, planning and '
      'generating, compiled programs cached); first run: the wall seconds '
      'of the run that compiled, process start included. Machine: '
      f'{os.cpu_count()} CPU cores (shared with other jobs), JAX on CPU.',
      '',
      '| output size | estimated s | measured s (cached run) | measured / '
      'estimated | first run s |',
      '|---|---|---|---|---|',
  ]
  for row in rows:
    lines.append(f"| {row['size']} | {row['estimate']:.0f} | "
                 f"{row['measured']:.1f} | "
                 f"{row['measured'] / row['estimate']:.2f} | "
                 f"{row['first']:.0f} |")
  _RESULTS.write_text('\n'.join(lines) + '\n', encoding='utf-8')
  print(f'wrote {_RESULTS}')


if __name__ == '__main__':
  main()
