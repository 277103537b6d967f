"""PatchMatch against exact search from the same start, level by level.

Comparing whole generations (search_quality.py) is noisy: the layout of a
variation diverges level after level, and one sample's coherence differs from
the next by up to 3x (completeness by up to 7x), so at 4 samples the ratio of
two means is only known to about +-30%. This script removes that noise with
`vgpnn_jax.paired_search.level_outputs`: the exact-search generation of N
samples runs level by level, and at every level PatchMatch also runs the
level's J iterations from the same start. The two outputs of a level differ
only by the search; each is scored against the level's input (coherence and
completeness: mean squared difference per value to the nearest 3x7x7 patch;
`--max-patches` sampled patches, at the same positions for both searches, or
0 for all).

    PYTHONPATH=. python experiments/search_quality_levels.py \\
        [--clips cliff desert] [--num-samples 4] [--max-size 48] \\
        [--out experiments/results/search_quality_levels.md]

It prints, per clip and level, the exact and PatchMatch means over the samples
and their ratio, then per clip the ratios at the finest level and their mean
over the levels.
"""

import argparse
import json
import pathlib
import sys

import jax
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / 'experiments'):
  if str(folder) not in sys.path:
    sys.path.insert(0, str(folder))

# pylint: disable=g-import-not-at-top,wrong-import-position
import evaluate
from vgpnn_jax import metrics
from vgpnn_jax import paired_search

def _scores(outputs: jax.Array, reference: jax.Array, key: jax.Array,
            max_patches: int | None) -> tuple[np.ndarray, np.ndarray]:
  """[N, T, H, W, C] outputs -> per-output (coherence [N], completeness [N])."""
  coh, com = [], []
  for output in outputs:
    # The same key for every output: the same sampled positions, so that the
    # two searches' outputs are scored on the same patches.
    # metrics' default patch, 3x7x7.
    coh.append(float(metrics.coherence(output, reference,
                                       max_patches=max_patches, key=key)))
    com.append(float(metrics.completeness(output, reference,
                                          max_patches=max_patches, key=key)))
  return np.array(coh), np.array(com)


def compare_levels(video: np.ndarray, keys: jax.Array,
                   max_patches: int | None, log=print,
                   carry: str = 'exact') -> list[dict]:
  """Per level (coarsest first), the scores of both searches' outputs.

  Args:
    video: [T, H, W, C] input in [0, 1].
    keys: [N] sample keys.
    max_patches: patches per score (None: all).
    log: called with a line per level.
    carry: the search whose outputs start the next level.

  Returns:
    One dict per level: size, and per search the coherence and completeness
    of each sample's output.
  """
  score_key = jax.random.key(0)
  rows = []
  levels = paired_search.level_outputs(keys, video, carry=carry)
  for index, (level, outputs, level_input) in enumerate(levels):
    row = {'level': index, 'size': list(level.output_size)}
    for search, output in outputs.items():
      coh, com = _scores(output, level_input, score_key, max_patches)
      row[search] = {'coherence': coh.tolist(), 'completeness': com.tolist()}
    rows.append(row)
    log(_level_text(row))
  return rows


def _ratio(row: dict, stat: str) -> float:
  return float(np.mean(row['patchmatch'][stat]) / np.mean(row['exact'][stat]))


def _pair_text(row: dict, stat: str) -> str:
  """'exact / PatchMatch (ratio)' of one statistic, means over samples."""
  return (f'{np.mean(row["exact"][stat]):.3g} / '
          f'{np.mean(row["patchmatch"][stat]):.3g} ({_ratio(row, stat):.3f})')


def _level_text(row: dict) -> str:
  size = 'x'.join(map(str, row['size']))
  return ', '.join([f'level {row["level"]:2d} {size:>10}'] +
                   [f'{stat} {_pair_text(row, stat)}'
                    for stat in ('coherence', 'completeness')])


def markdown(results: dict[str, list[dict]], command: str) -> str:
  lines = ['# PatchMatch against exact search from the same start, level by '
           'level', '', f'Command: `{command}`', '',
           'Per level, the mean over the samples of each search\'s output '
           'score against the level\'s input, and the ratio PatchMatch / '
           'exact (lower scores are better).', '',
           '| clip | level | size | coherence exact / PM (ratio) | '
           'completeness exact / PM (ratio) |',
           '|---|---|---|---|---|']
  summary = []
  for clip, rows in results.items():
    for row in rows:
      lines.append(f'| {clip} | {row["level"]} | '
                   f'{"x".join(map(str, row["size"]))} | '
                   f'{_pair_text(row, "coherence")} | '
                   f'{_pair_text(row, "completeness")} |')
    finest = rows[-1]
    summary.append((clip, _ratio(finest, 'coherence'),
                    _ratio(finest, 'completeness'),
                    float(np.mean([_ratio(r, 'coherence') for r in rows])),
                    float(np.mean([_ratio(r, 'completeness') for r in rows]))))
  lines += ['', '| clip | finest level: coherence ratio | completeness ratio |'
            ' mean over levels: coherence ratio | completeness ratio |',
            '|---|---|---|---|---|']
  for clip, *ratios in summary:
    lines.append(f'| {clip} | ' + ' | '.join(f'{r:.3f}' for r in ratios) +
                 ' |')
  means = np.mean([s[1:] for s in summary], axis=0)
  lines.append('| mean | ' + ' | '.join(f'{r:.3f}' for r in means) + ' |')
  return '\n'.join(lines) + '\n'


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--clips', nargs='+', choices=evaluate.CLIPS,
                      default=list(evaluate.CLIPS))
  parser.add_argument('--num-samples', type=int, default=4)
  parser.add_argument('--max-size', type=int, default=48)
  parser.add_argument('--max-patches', type=int, default=2048,
                      help='patches per score; 0 for all')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--carry', choices=('exact', 'patchmatch'),
                      default='exact',
                      help='the search whose outputs start the next level')
  parser.add_argument('--data', type=pathlib.Path, default=evaluate.DATA)
  parser.add_argument('--out', type=pathlib.Path)
  args = parser.parse_args()
  max_patches = args.max_patches or None
  results = {}
  for clip in args.clips:
    video, _ = evaluate.load_clip(clip, args.data, args.max_size)
    print(f'{clip}: {"x".join(map(str, video.shape[:3]))}', flush=True)
    key = evaluate.clip_key(jax.random.key(args.seed), clip)
    keys = jax.random.split(key, args.num_samples)
    results[clip] = compare_levels(
        video, keys, max_patches,
        log=lambda line: print('  ' + line, flush=True), carry=args.carry)
  text = markdown(results, ' '.join(sys.argv))
  print(text)
  if args.out:
    args.out.write_text(text)
    args.out.with_suffix('.json').write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
  main()
