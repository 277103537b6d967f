"""PatchMatch against exact search: one table from two evaluate.py runs.

Issue 4, point 4: the outputs of PatchMatch and of exact search should have
coherence and completeness within 10% of each other, and no worse than the
authors' published outputs. Run evaluate.py twice with the same sample keys,
at a size where exact search is affordable, then compare:

    python experiments/evaluate.py --search exact --max-size 48 \\
        --num-samples 4 --out experiments/results/search_quality_exact.md
    python experiments/evaluate.py --search patchmatch --max-size 48 \\
        --num-samples 4 --out experiments/results/search_quality_patchmatch.md
    python experiments/search_quality.py \\
        experiments/results/search_quality_exact.json \\
        experiments/results/search_quality_patchmatch.json \\
        --out experiments/results/search_quality.md
"""

import argparse
import json
import pathlib

import numpy as np

FIELDS = ('diversity', 'coherence', 'completeness', 'swd')


def _rows(path: pathlib.Path) -> dict[tuple[str, str], dict]:
  return {(r['clip'], r['method']): r
          for r in json.loads(path.read_text())}


def table(exact: dict, patchmatch: dict) -> list[str]:
  """Markdown lines: per clip, ours with each search, their ratio, authors'."""
  clips = [clip for clip, method in exact if method == 'ours' and
           (clip, 'ours') in patchmatch]
  lines = ['| clip | statistic | exact | PatchMatch | PatchMatch / exact | '
           'authors |', '|---|---|---|---|---|---|']
  ratios = {field: [] for field in FIELDS}
  for clip in clips:
    authors = exact.get((clip, 'authors'))
    for field in FIELDS:
      e, p = exact[clip, 'ours'][field], patchmatch[clip, 'ours'][field]
      ratios[field].append(p / e)
      theirs = '-' if authors is None else f'{authors[field]:.4g}'
      lines.append(f'| {clip} | {field} | {e:.4g} | {p:.4g} | {p / e:.3f} | '
                   f'{theirs} |')
  lines += ['', '| statistic | mean ratio PatchMatch / exact | range |',
            '|---|---|---|']
  for field in FIELDS:
    values = ratios[field]
    lines.append(f'| {field} | {np.mean(values):.3f} | {min(values):.3f} - '
                 f'{max(values):.3f} |')
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('exact', type=pathlib.Path,
                      help='evaluate.py JSON of the --search exact run')
  parser.add_argument('patchmatch', type=pathlib.Path,
                      help='evaluate.py JSON of the --search patchmatch run')
  parser.add_argument('--out', type=pathlib.Path, default=None)
  args = parser.parse_args()
  lines = ['# PatchMatch against exact search', '',
           f'Our samples with `--search exact` ({args.exact.name}) and '
           f'`--search patchmatch` ({args.patchmatch.name}), the same sample '
           'keys; lower coherence, completeness and SWD are better, higher '
           'diversity. The authors\' outputs are read at the same size.', '']
  lines += table(_rows(args.exact), _rows(args.patchmatch))
  text = '\n'.join(lines) + '\n'
  print(text)
  if args.out:
    args.out.write_text(text)


if __name__ == '__main__':
  main()
