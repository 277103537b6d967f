"""Diversity against coherence as the noise grows, on every clip; the default
noise chosen by cross-validation (issue 18).

    .venv/bin/python experiments/diversity_curve.py run [--clips ...]
        [--settings spread:20,value:5.0,...]     # fills the JSON, resumable
    .venv/bin/python experiments/diversity_curve.py report
        # -> experiments/results/diversity_curve.md and diversity_curve.png

`run` evaluates, per clip and noise setting, 6 samples drawn with
evaluate.py's keys ('ours' at seed 0: rows pair up across settings and with
evaluation.md), H.264-encoded like the authors' outputs, with 1024 sampled
patches per direction (noise_sweep.py's quick settings). A setting is
`spread:C` (noise_std = C patch spreads of the coarsest level,
`Config.noise_unit='patch_spread'`) or `value:S` (noise_std = S in value
units, today's default being value:5.0). Per clip it also scores the
authors' outputs (where published) and the input cut in shuffled 8x8 blocks,
whose coherence sets the target where no published outputs exist. Every
entry is stored in experiments/results/diversity_curve.json as it finishes,
so an interrupted run resumes where it stopped.

`report` applies the issue's targets per clip (diversity at least the
authors' and coherence at most theirs where their outputs exist; otherwise
diversity above 0.45 and coherence at most 4.5% of the shuffled clip's),
picks on each fold the setting that meets them on the most clips, and
reports that pick on the other fold (two-fold cross-validation).
"""

import argparse
import json
import math
import pathlib
import sys
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# pylint: disable=g-import-not-at-top,wrong-import-position
import evaluate
from vgpnn_jax import report

RESULTS = pathlib.Path(__file__).resolve().parent / 'results'
JSON = RESULTS / 'diversity_curve.json'
NUM_SAMPLES = 6
MAX_PATCHES = 1024
# Two folds, each with SinGAN-GIF clips (published outputs) and cuts without.
FOLDS = {
    'A': ('birds', 'desert', 'waterfall', 'airballoons', 'bunny',
          'pedestrians', 'speedway'),
    'B': ('cliff', 'seashore', 'tree', 'carphone', 'bigbuckbunny80',
          'pedestrians600', 'speedway120'),
}
DEFAULT_SETTINGS = ('spread:20', 'value:5.0', 'spread:12', 'spread:30',
                    'spread:16', 'spread:25')
DIVERSITY_TARGET = 0.45
SHUFFLED_FRACTION = 0.045


def setting_options(setting: str) -> dict:
  """`Config` overrides of a setting ('spread:20' or 'value:5.0')."""
  unit, amount = setting.split(':')
  options = {'noise_std': float(amount)}
  if unit == 'spread':
    options['noise_unit'] = 'patch_spread'
  elif unit != 'value':
    raise ValueError(f'unknown setting {setting!r}: spread:C or value:S')
  return options


def _load() -> dict:
  return json.loads(JSON.read_text()) if JSON.exists() else {}


def _store(results: dict) -> None:
  temporary = JSON.with_suffix('.json.tmp')
  temporary.write_text(json.dumps(results, indent=1, sort_keys=True))
  temporary.replace(JSON)


def _scores(video, outputs, key, diversity=None) -> dict:
  result = report.evaluate_videos(video, outputs, key=key,
                                  max_patches=MAX_PATCHES,
                                  swd_max_patches=2**14, scales=(1,))
  per_sample = [o['coherence'] for o in result['outputs']]
  return {
      'diversity': result['diversity'] if diversity is None else diversity,
      'coherence': result['mean']['coherence'],
      'completeness': result['mean']['completeness'],
      'coherence_per_sample': per_sample,
  }


def run(clips, settings) -> None:
  results = _load()
  for setting in ('references',) + tuple(settings):
    for clip in clips:
      entry = f'{clip}|{setting}'
      if setting == 'references':
        entry = f'{clip}|shuffled'
      if entry in results:
        continue
      video, author_paths = evaluate.load_clip(clip, evaluate.DATA)
      keys = evaluate.method_keys(evaluate.clip_key(jax.random.key(0), clip))
      start = time.perf_counter()
      if setting == 'references':
        shuffled = evaluate.shuffled_blocks(keys['shuffled'], video)
        results[entry] = _scores(video, [shuffled], keys['shuffled'],
                                 diversity=0.0)
        if author_paths:
          outputs = [evaluate.io.read_video(p)[0]
                     for p in author_paths[:NUM_SAMPLES]]
          results[f'{clip}|authors'] = _scores(video, outputs,
                                               keys['authors'])
      else:
        samples = evaluate.our_samples(video, NUM_SAMPLES, keys['ours'],
                                       **setting_options(setting))
        results[entry] = _scores(video, evaluate.encoded_like_published(
            samples), jax.random.key(1))
      results[entry]['seconds'] = round(time.perf_counter() - start, 1)
      results[entry]['shape'] = list(video.shape[:3])
      _store(results)
      print(f'{entry}: ' + ', '.join(
          f'{k} {v:.4g}' for k, v in results[entry].items()
          if isinstance(v, float)), flush=True)


def targets(results: dict, clip: str) -> tuple[float, float, str]:
  """(least diversity, most coherence, which target) for a clip."""
  authors = results.get(f'{clip}|authors')
  if authors:
    return authors['diversity'], authors['coherence'], "authors'"
  shuffled = results[f'{clip}|shuffled']['coherence']
  return DIVERSITY_TARGET, SHUFFLED_FRACTION * shuffled, '4.5% shuffled'


def slack(results: dict, clip: str, setting: str) -> float:
  """min(diversity / least, most / coherence): at least 1 meets both."""
  row = results[f'{clip}|{setting}']
  least, most, _ = targets(results, clip)
  return min(row['diversity'] / least, most / row['coherence'])


def pick(results: dict, clips, settings) -> str:
  """The setting meeting the targets on the most clips (ties: the larger
  worst slack: the defaults must hold on every clip)."""
  def score(setting):
    slacks = [slack(results, c, setting) for c in clips]
    return sum(s >= 1 for s in slacks), min(slacks)
  return max(settings, key=score)


def _label(setting: str) -> str:
  unit, amount = setting.split(':')
  return (f'{float(amount):g} spreads' if unit == 'spread'
          else f'{float(amount):g} (value units)')


def write_report(results: dict, settings) -> str:
  clips = [c for fold in FOLDS.values() for c in fold]
  settings = [s for s in settings
              if all(f'{c}|{s}' in results for c in clips)]
  lines = ['# Diversity against coherence on 14 clips; the default noise '
           'chosen by cross-validation (issue 18)', '',
           'Command (2-core CPU, jax 0.10.2): '
           '`.venv/bin/python experiments/diversity_curve.py run`, then '
           '`... report`. 6 samples per row with evaluate.py\'s keys, '
           'H.264-encoded; coherence and completeness on 1024 sampled '
           'patches (mean squared difference per value, [0, 1] values).',
           '', '## Cross-validation', '']
  lines.append('| picked on | settings meeting the targets on the most '
               'clips of the fold | each on the other fold | tie broken by '
               'the worst slack |')
  lines.append('|---|---|---|---|')
  for name, fold in FOLDS.items():
    other = [c for c in clips if c not in fold]
    counts = {s: sum(slack(results, c, s) >= 1 for c in fold)
              for s in settings}
    tied = [s for s in settings if counts[s] == max(counts.values())]
    elsewhere = ', '.join(
        f'{_label(s)}: {sum(slack(results, c, s) >= 1 for c in other)}/'
        f'{len(other)}' for s in tied)
    lines.append(f'| fold {name} ({", ".join(fold)}) | '
                 f'{", ".join(_label(s) for s in tied)} '
                 f'({max(counts.values())}/{len(fold)}) | {elsewhere} | '
                 f'{_label(pick(results, fold, settings))} |')
  lines += ['', '## Every setting on all 14 clips', '',
            '"worst sample" is the mean over clips of the highest coherence '
            'among a clip\'s 6 samples, over the same for today\'s fixed '
            '5.0 (value units); below 1 is better.', '',
            '| setting | meets the targets | mean diversity | worst slack '
            '(clip) | worst sample vs fixed 5.0 |', '|---|---|---|---|---|']
  for setting in settings:
    slacks = {c: slack(results, c, setting) for c in clips}
    weakest = min(slacks, key=slacks.get)
    worst = np.mean([
        max(results[f'{c}|{setting}']['coherence_per_sample']) /
        max(results[f'{c}|value:5.0']['coherence_per_sample'])
        for c in clips]) if 'value:5.0' in settings else float('nan')
    lines.append(
        f'| {_label(setting)} | {sum(v >= 1 for v in slacks.values())}/'
        f'{len(clips)} | {np.mean([results[f"{c}|{setting}"]["diversity"] for c in clips]):.3f} | '
        f'{slacks[weakest]:.3f} ({weakest}) | {worst:.3f} |')
  lines += ['', '## Per clip', '',
            '"worst" is the highest coherence of the 6 samples; the target '
            'column is (least diversity, most coherence).', '',
            '| clip | setting | diversity | coherence | worst sample | '
            'completeness | meets | target |',
            '|---|---|---|---|---|---|---|---|']
  for clip in clips:
    least, most, which = targets(results, clip)
    rows = [(s, results[f'{clip}|{s}']) for s in settings]
    if f'{clip}|authors' in results:
      rows.append(('authors', results[f'{clip}|authors']))
    for setting, row in rows:
      meets = ('' if setting == 'authors' else
               'yes' if slack(results, clip, setting) >= 1 else 'no')
      lines.append(
          f'| {clip} | {_label(setting) if ":" in setting else setting} | '
          f'{row["diversity"]:.3f} | {row["coherence"]:.3g} | '
          f'{max(row["coherence_per_sample"]):.3g} | '
          f'{row["completeness"]:.3g} | {meets} | '
          f'{least:.3f}, {most:.3g} ({which}) |')
  return '\n'.join(lines) + '\n'


def plot(results: dict, settings, path: pathlib.Path) -> None:
  """One panel per clip: coherence against diversity, one point per
  setting, the authors' outputs and the target box marked."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  clips = [c for fold in FOLDS.values() for c in fold]
  spreads = sorted((s for s in settings if s.startswith('spread:')),
                   key=lambda s: float(s.split(':')[1]))
  columns = 4
  figure, axes = pyplot.subplots(math.ceil(len(clips) / columns), columns,
                                 figsize=(16, 3.2 * math.ceil(
                                     len(clips) / columns)))
  for axis in axes.flat[len(clips):]:
    axis.axis('off')
  for axis, clip in zip(axes.flat, clips):
    least, most, which = targets(results, clip)
    done = [s for s in spreads if f'{clip}|{s}' in results]
    points = [results[f'{clip}|{s}'] for s in done]
    axis.plot([p['diversity'] for p in points],
              [p['coherence'] for p in points], 'o-', color='tab:blue',
              label='ours, noise in patch spreads')
    for setting, point in zip(done, points):
      axis.annotate(setting.split(':')[1], (point['diversity'],
                                            point['coherence']),
                    textcoords='offset points', xytext=(4, 4), fontsize=8)
    default = results.get(f'{clip}|value:5.0')
    if default:
      axis.plot(default['diversity'], default['coherence'], 's',
                color='tab:gray', label='ours, fixed 5.0 (before)')
    authors = results.get(f'{clip}|authors')
    if authors:
      axis.plot(authors['diversity'], authors['coherence'], '*',
                markersize=12, color='tab:red', label="authors' outputs")
    axis.axvline(least, color='tab:green', linestyle=':')
    axis.axhline(most, color='tab:green', linestyle=':',
                 label=f'target ({which})')
    axis.set_title(clip, fontsize=10)
    axis.set_xlabel('diversity')
    axis.set_ylabel('coherence')
    axis.margins(0.15)
    if axis is axes.flat[0]:
      axis.legend(fontsize=7, loc='lower right')
  figure.tight_layout()
  figure.savefig(path, dpi=70)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('command', choices=('run', 'report'))
  parser.add_argument('--clips', default=','.join(
      c for fold in FOLDS.values() for c in fold))
  parser.add_argument('--settings', default=','.join(DEFAULT_SETTINGS))
  args = parser.parse_args()
  settings = args.settings.split(',')
  if args.command == 'run':
    run(args.clips.split(','), settings)
  else:
    results = _load()
    (RESULTS / 'diversity_curve.md').write_text(
        write_report(results, settings))
    plot(results, settings, RESULTS / 'diversity_curve.png')


if __name__ == '__main__':
  main()
