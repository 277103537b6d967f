"""The memory estimate piece by piece, next to XLA's buffers and the measured peak.

For each plan, the pieces of `memory.estimate_bytes` at its peak level
(`memory.breakdown`) in MiB; XLA's `memory_analysis()` of the peak level's
two compiled programs (the level's start and one iteration: argument, output,
alias and temp bytes); and, for the measured cases, the peak resident memory
of a real `generate_batch` run in a fresh process (experiments/bench_memory.py).
Writes experiments/results/memory_diet.md; a section of that file from its
`## Changes` line on is kept as it is (the log of what each change saved).

    python experiments/memory_breakdown.py            # 13x360x640 measured,
                                                      # 720p plans estimated
    python experiments/memory_breakdown.py --measure 7x48x80 --estimate '' \
        --no-xla --out /tmp/diet.md                    # quick
"""

import argparse
import os
import pathlib
import sys

_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / 'experiments'))

import bench_memory  # pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import generation  # pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import pnn  # pylint: disable=g-import-not-at-top,wrong-import-position

_RESULTS = _ROOT / 'experiments' / 'results' / 'memory_diet.md'
_MIB = 2.0**20
_CHANNELS = 3


def level_programs(levels, config, index: int, num: int = 1):
  """Level `index`'s start and iteration programs and their argument shapes.

  As `generate_batch` compiles them (batched over `num` keys when num > 1,
  unguided). Returns [(name, jitted program, argument specs)] for 'start'
  and 'iteration'.
  """
  import jax  # pylint: disable=g-import-not-at-top
  # pylint: disable=protected-access
  batched = num > 1
  static = generation._programs(levels, config,
                                windows=generation.level_windows(levels,
                                                                 config))
  keys = jax.random.split(jax.random.key(0), num)
  keys = generation._fold_in(keys if batched else keys[0], index, batched)
  specs = generation._level_specs(keys, levels, index, static,
                                  [None] * len(levels),
                                  [_CHANNELS] * len(levels), batched)
  coarsest = index == len(levels) - 1
  fns = (generation._compiled_start(static[index], coarsest, batched),
         pnn.compiled_iteration(static[index].options, batched))
  # pylint: enable=protected-access
  return list(zip(('start', 'iteration'), fns, specs))


def xla_buffers(levels, config, index: int, num: int) -> dict:
  """memory_analysis() of level `index`'s start and iteration programs
  (`level_programs`). Returns {'start': analysis, 'iteration': analysis}."""
  return {name: fn.lower(*spec).compile().memory_analysis()
          for name, fn, spec in level_programs(levels, config, index, num)}


def _breakdown(levels, config, num: int) -> memory.Breakdown:
  """`memory.breakdown` as `check_fits` counts it (the structure guard)."""
  return memory.breakdown(levels, _CHANNELS, num,
                          chunk_size=config.chunk_size, platform='cpu',
                          layout_draws=generation.guard_draws(config),
                          guard_level=config.guard_level)


def _per_float(num_bytes, levels) -> str:
  """Bytes over the finest video's float32 bytes (the issue's 'bytes per
  float': 13x720x1280 peaked at about 40 times its 137 MiB video)."""
  return f'{num_bytes / memory._video_bytes(levels[0].input_size, _CHANNELS):.1f}'  # pylint: disable=protected-access


def _mib(num_bytes) -> str:
  return f'{num_bytes / _MIB:,.0f}'


def table(cases, config, num: int, measured: dict, xla: dict) -> list[str]:
  """Markdown lines: one column per case, one row per piece."""
  breakdowns = {}
  for case in cases:
    levels = generation.plan_levels(bench_memory._size(case), config,  # pylint: disable=protected-access
                                    _CHANNELS)
    breakdowns[case] = (levels, _breakdown(levels, config, num))
  names = []
  for _, b in breakdowns.values():
    names += [n for n, _ in b.parts if n not in names]
  idle_names = []
  for _, b in breakdowns.values():
    idle_names += [n for n, _ in b.idle if n not in idle_names]
  lines = ['| MiB | ' + ' | '.join(f'{c} x{num}' for c in cases) + ' |',
           '|---|' + '---|' * len(cases)]

  def row(label, values):
    lines.append(f'| {label} | ' + ' | '.join(values) + ' |')

  row('peak level (0 = finest): size, patch, J, search',
      [f'{b.peak_level}: {"x".join(map(str, l[b.peak_level].output_size))}, '
       f'{"x".join(map(str, l[b.peak_level].patch_size))}, '
       f'{l[b.peak_level].num_iters}, {l[b.peak_level].search}'
       for l, b in breakdowns.values()])
  row('finest video, float32',
      [_mib(memory._video_bytes(l[0].input_size, _CHANNELS))  # pylint: disable=protected-access
       for l, _ in breakdowns.values()])
  for name in names:
    row(name, [_mib(dict(b.parts).get(name, 0)) for _, b in
               breakdowns.values()])
  row('margin (x1.1 on the arrays)',
      [_mib(b.margin) for _, b in breakdowns.values()])
  row('**estimate**', [f'**{_mib(b.total)}**' for _, b in
                       breakdowns.values()])
  row('estimate / finest video (float32)',
      [_per_float(b.total, l) for l, b in breakdowns.values()])
  for name in idle_names:
    row(f'({name}: not counted, the other working set is larger)',
        [_mib(dict(b.idle).get(name, 0)) for _, b in breakdowns.values()])
  for program in ('start', 'iteration'):
    for field in ('argument', 'output', 'alias', 'temp'):
      values = []
      for case in cases:
        analysis = xla.get(case, {}).get(program)
        values.append('-' if analysis is None else
                      _mib(getattr(analysis, f'{field}_size_in_bytes')))
      row(f'XLA {program} program: {field}', values)
  row('**measured peak RSS**',
      [f'**{_mib(measured[c])}**' if c in measured else '-' for c in cases])
  row('measured / finest video (float32)',
      [_per_float(measured[c], l) if c in measured else '-'
       for c, (l, _) in breakdowns.items()])
  row('estimate / measured',
      [f'{b.total / measured[c]:.2f}' if c in measured else '-'
       for c, (_, b) in breakdowns.items()])
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--measure', default='13x360x640',
                      help='comma-separated TxHxW cases that are run')
  parser.add_argument('--estimate', default='13x720x1280,60x720x1280',
                      help='comma-separated TxHxW cases only estimated')
  parser.add_argument('--num', type=int, default=1, help='variations')
  parser.add_argument('--no-xla', action='store_true',
                      help='skip compiling the peak level for its buffers')
  parser.add_argument('--out', default=str(_RESULTS))
  args = parser.parse_args()
  measured_cases = [c for c in args.measure.split(',') if c]
  cases = measured_cases + [c for c in args.estimate.split(',') if c]
  bench_args = argparse.Namespace(search='auto', max_levels=None, iters=None)
  config = bench_memory._config(bench_args)  # pylint: disable=protected-access
  xla = {}
  if not args.no_xla:
    for case in cases:
      levels = generation.plan_levels(bench_memory._size(case), config,  # pylint: disable=protected-access
                                      _CHANNELS)
      peak = _breakdown(levels, config, args.num).peak_level
      xla[case] = xla_buffers(levels, config, peak, args.num)
      print(f'{case}: compiled level {peak}', flush=True)
  measured = {}
  for case in measured_cases:
    measured[case] = bench_memory.measure(case, args.num,
                                          bench_args)['peak_bytes']
    print(f'{case}: measured {measured[case] / _MIB:.0f} MiB', flush=True)
  command = ' '.join(['python experiments/memory_breakdown.py'] +
                     [a for a in sys.argv[1:]])
  lines = [
      '# Memory diet: what is alive at the peak, piece by piece',
      '',
      f'`{command}` (default plan, auto search, CPU, '
      f'{os.cpu_count()} cores shared with other jobs). The pieces are '
      '`memory.breakdown`, the terms of `memory.estimate_bytes` at the level '
      'where it peaks, with the structure guard as `check_fits` counts it '
      '; "XLA" is `.compile().memory_analysis()` of that '
      'level\'s start and iteration programs as `generate_batch` compiles '
      'them; measured: peak RSS (`ru_maxrss`) of `generate_batch` in a fresh '
      'process (experiments/bench_memory.py).',
      '',
  ] + table(cases, config, args.num, measured, xla) + ['']
  out = pathlib.Path(args.out)
  kept = ''
  if out.exists():
    text = out.read_text(encoding='utf-8')
    if '\n## Changes' in text:
      kept = text[text.index('\n## Changes') + 1:]
  out.write_text('\n'.join(lines) + ('\n' + kept if kept else ''),
                 encoding='utf-8')
  print('\n'.join(lines))
  print(f'wrote {out}')


if __name__ == '__main__':
  main()
