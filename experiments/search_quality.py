"""PatchMatch against exact search: one table from two evaluate.py runs.

Issue 4, point 4: the outputs of PatchMatch and of exact search should have
coherence and completeness within 10% of each other, and no worse than the
authors' published outputs. Run evaluate.py twice with the same sample keys,
at a size where exact search is affordable, with the completeness term off
(it acts on exact-search levels only, so it would differ between the runs;
the runs recorded here predate it being on by default), then compare:

    python experiments/evaluate.py --search exact --max-size 48 \\
        --num-samples 8 --alpha none \\
        --out experiments/results/search_quality_exact.md
    python experiments/evaluate.py --search patchmatch --max-size 48 \\
        --num-samples 8 --alpha none \\
        --out experiments/results/search_quality_patchmatch.md
    python experiments/search_quality.py \\
        experiments/results/search_quality_exact.json \\
        experiments/results/search_quality_patchmatch.json \\
        --out experiments/results/search_quality.md

and the default's split (exact search on the coarse levels, PatchMatch on the
finer half, as `search='auto'` does at full size):

    python experiments/evaluate.py --search auto --auto-exact-flops 5e9 \\
        --max-size 48 --num-samples 8 --alpha none \\
        --out experiments/results/search_quality_auto_run.md
    python experiments/search_quality.py \\
        experiments/results/search_quality_exact.json \\
        experiments/results/search_quality_auto_run.json --name auto \\
        --out experiments/results/search_quality_auto.md

The samples of one clip vary several-fold in coherence and completeness (their
layouts differ), so the ratio of two means over a few samples is noisy. But
sample i of both runs starts from the same key, and both searches agree at the
coarse levels where the layout is set: the two values of a sample move
together. The table therefore also gives the paired ratio, the geometric mean
over samples of PatchMatch / exact, with a 95% interval, per clip and over
all samples of all clips. (For the same comparison with no layout noise at
all, level by level from one start, see search_quality_levels.py.)
"""

import argparse
import json
import pathlib

import numpy as np

FIELDS = ('diversity', 'coherence', 'completeness', 'swd')


def _rows(path: pathlib.Path) -> dict[tuple[str, str], dict]:
  return {(r['clip'], r['method']): r
          for r in json.loads(path.read_text())}


def log_interval(logs: np.ndarray) -> tuple[float, float, float]:
  """exp of the mean of logs and of its 95% interval (normal approximation).

  Applied to the logs of per-sample ratios PatchMatch / exact: sample i of
  both runs starts from the same key, and its layout is set at the coarse
  levels, so the two values of a sample move together and their ratio varies
  much less than either.
  """
  half = (1.96 * np.std(logs, ddof=1) / np.sqrt(len(logs))
          if len(logs) > 1 else np.inf)
  return tuple(float(np.exp(x)) for x in (logs.mean(), logs.mean() - half,
                                          logs.mean() + half))


def _interval_text(value: tuple | None) -> str:
  return '-' if value is None else f'{value[0]:.3f} [{value[1]:.2f}, ' \
      f'{value[2]:.2f}]'


def table(exact: dict, patchmatch: dict,
          name: str = 'PatchMatch') -> list[str]:
  """Markdown lines: per clip, ours with each search, their ratio, authors'."""
  clips = [clip for clip, method in exact if method == 'ours' and
           (clip, 'ours') in patchmatch]
  lines = [f'| clip | statistic | exact | {name} | {name} / exact | '
           'paired: per sample [95%] | authors |',
           '|---|---|---|---|---|---|---|']
  ratios = {field: [] for field in FIELDS}
  logs = {field: [] for field in FIELDS}
  for clip in clips:
    authors = exact.get((clip, 'authors'))
    ours_exact, ours_pm = exact[clip, 'ours'], patchmatch[clip, 'ours']
    for field in FIELDS:
      e, p = ours_exact[field], ours_pm[field]
      ratios[field].append(p / e)
      paired = None
      e_i = ours_exact.get('per_sample', {}).get(field, [])
      p_i = ours_pm.get('per_sample', {}).get(field, [])
      if e_i and len(e_i) == len(p_i):
        sample_logs = np.log(np.asarray(p_i) / np.asarray(e_i))
        paired = log_interval(sample_logs)
        logs[field] += list(sample_logs)
      theirs = '-' if authors is None else f'{authors[field]:.4g}'
      lines.append(f'| {clip} | {field} | {e:.4g} | {p:.4g} | {p / e:.3f} | '
                   f'{_interval_text(paired)} | {theirs} |')
  lines += ['', f'| statistic | mean ratio {name} / exact | range | '
            'paired, all samples of all clips [95%] |', '|---|---|---|---|']
  for field in FIELDS:
    values = ratios[field]
    pooled = log_interval(np.asarray(logs[field])) if len(
        logs[field]) > 1 else None
    lines.append(f'| {field} | {np.mean(values):.3f} | {min(values):.3f} - '
                 f'{max(values):.3f} | {_interval_text(pooled)} |')
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('exact', type=pathlib.Path,
                      help='evaluate.py JSON of the --search exact run')
  parser.add_argument('patchmatch', type=pathlib.Path,
                      help='evaluate.py JSON of the --search patchmatch run '
                      '(or of an --search auto run, with --name)')
  parser.add_argument('--name', default='PatchMatch',
                      help='the second run\'s name in the table')
  parser.add_argument('--out', type=pathlib.Path, default=None)
  args = parser.parse_args()
  lines = [f'# {args.name} against exact search', '',
           f'Our samples with `--search exact` ({args.exact.name}) and '
           f'{args.name} ({args.patchmatch.name}), the same sample '
           'keys; lower coherence, completeness and SWD are better, higher '
           'diversity. The authors\' outputs are read at the same size.', '']
  lines += table(_rows(args.exact), _rows(args.patchmatch), args.name)
  text = '\n'.join(lines) + '\n'
  print(text)
  if args.out:
    args.out.write_text(text)


if __name__ == '__main__':
  main()
