"""Quality table: the authors' outputs, a copy, shuffled blocks and ours.

For every clip of ../shared/data/singangif (the five *_gt.mp4 inputs of the
VGPNN paper's SinGAN-GIF comparison, 8 frames each),
../shared/data/airballoons (the reference code's sample, first 13 frames) and
the 13-frame cuts of `CUTS` (the bundled sample, pedestrians, speedway, tree,
carphone, bigbuckbunny; `--clips` picks), it evaluates with
`vgpnn_jax.report.evaluate_videos`:

  authors   the VGPNN authors' published outputs (singangif/reference_outputs/
            <clip>_ours0..5.mp4; none exist for airballoons);
  copy      the input itself: perfect coherence / completeness / SWD, and
            diversity 0 over N copies (the baseline every method must beat on
            diversity while staying near it on the patch scores);
  shuffled  the input cut into 8x8 blocks, shuffled (see `shuffled_blocks`):
            every patch comes from the input, but the layout is broken;
  ours      our samples, `vgpnn_jax.generate_batch` with the default config
            (skipped with --skip-ours).

Columns: diversity over the N samples (the papers' score), then the means over
the samples of coherence, completeness (mean squared difference per value to
the nearest 3x7x7 patch, values in [0, 1]; `--max-patches` sampled patches per
direction, each searched exactly among all patches) and patch SWD (sliced
Wasserstein distance, mean of scales 1, 2, 4).

    .venv/bin/python experiments/evaluate.py [--clips cliff birds]
        [--num-samples 6] [--max-patches 2048] [--skip-ours]
        [--search auto|exact|patchmatch] [--max-size 64]
        [--baselines experiments/results/evaluation.json]
        [--out experiments/results/evaluation.md]

With --baselines, the authors', copy and shuffled rows come from an earlier
run's JSON and only our samples are generated and scored again (after a
change of defaults).

PatchMatch against exact search (issue 4, point 4): run twice at a size where
exact search is affordable, `--search exact` and `--search patchmatch`, with
the same `--max-size` (the sample keys are the same), and compare the tables.
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))

# pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import cli
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import report

DATA = REPO.parent / 'shared' / 'data'
SINGANGIF = ('birds', 'cliff', 'desert', 'seashore', 'waterfall')
# Short cuts of the longer clips of ../shared/data (13 frames at most 144
# high; no published outputs): name -> (file, first frame). Appended after
# the first six so that every clip's key (`clip_key`) stays what it was.
CUTS = {
    'bunny': (REPO / 'vgpnn_jax' / 'data' / 'bunny.mp4', 0),  # bundled sample
    'pedestrians': ('pedestrians_vtest.avi', 0),
    'pedestrians600': ('pedestrians_vtest.avi', 600),
    'speedway': ('speedway_cc0.mj2', 20),
    'speedway120': ('speedway_cc0.mj2', 120),
    'tree': ('tree.avi', 0),
    'carphone': ('carphone_176x144.mp4', 0),
    'bigbuckbunny80': ('bigbuckbunny_720p.mp4', 80),
}
CLIPS = SINGANGIF + ('airballoons',) + tuple(CUTS)
AIRBALLOONS_FRAMES = 13
CUT_FRAMES = 13
CUT_SIZE = 144
BLOCK = 8
METHODS = ('authors', 'copy', 'shuffled', 'ours')


def load_clip(name: str, data: pathlib.Path,
              max_size: int | None = None) -> tuple[np.ndarray, list[str]]:
  """The input video of a clip (frames at most `max_size` high) and the paths
  of the authors' outputs."""
  if name == 'airballoons':
    video, _ = io.read_video(data / 'airballoons', stop=AIRBALLOONS_FRAMES,
                             max_size=max_size)
    return video, []
  if name in CUTS:
    file, start = CUTS[name]
    size = CUT_SIZE if max_size is None else min(CUT_SIZE, max_size)
    video, _ = io.read_video(data / file, start=start,
                             stop=start + CUT_FRAMES, max_size=size)
    return video, []
  video, _ = io.read_video(data / 'singangif' / f'{name}_gt.mp4',
                           max_size=max_size)
  outputs = sorted((data / 'singangif' / 'reference_outputs').glob(
      f'{name}_ours*.mp4'))
  return video, [str(p) for p in outputs]


def shuffled_blocks(key: jax.Array, video: np.ndarray,
                    block: int = BLOCK) -> np.ndarray:
  """The input with its 8x8 blocks shuffled.

  The part of each frame covered by whole `block` x `block` blocks (the top
  left `block * (H // block)` x `block * (W // block)` pixels) is cut into
  blocks, and the blocks are permuted by one random permutation drawn from
  `key`, the same for every frame: each block stays a space-time tube of the
  input, so patches inside a block keep their motion, while patches across
  block edges are new. The remaining right and bottom strips stay in place.
  (Independent permutations per frame give about 3x higher coherence; the
  shared one matches the 0.0135 quoted in ../shared/data/README.md.)

  Args:
    key: PRNG key.
    video: [T, H, W, C].
    block: block side in pixels.

  Returns:
    [T, H, W, C] shuffled copy.
  """
  frames, height, width, channels = video.shape
  rows, cols = height // block, width // block
  out = np.array(video)
  core = out[:, :rows * block, :cols * block]
  tiles = core.reshape(frames, rows, block, cols, block, channels)
  tiles = tiles.transpose(0, 1, 3, 2, 4, 5).reshape(frames, rows * cols,
                                                    block, block, channels)
  order = np.asarray(jax.random.permutation(key, rows * cols))
  tiles = tiles[:, order].reshape(frames, rows, cols, block, block, channels)
  out[:, :rows * block, :cols * block] = tiles.transpose(
      0, 1, 3, 2, 4, 5).reshape(frames, rows * block, cols * block, channels)
  return out


# ----------------------------------------------------------------------------
# OUR SAMPLES: the one place that calls the generator.


def our_samples(video: np.ndarray, n: int, key: jax.Array,
                **options) -> np.ndarray:
  """n samples of our VGPNN, `vgpnn_jax.generate_batch` (one vmapped batch).

  Args:
    video: [T, H, W, 3] input in [0, 1].
    n: number of samples.
    key: PRNG key, split into the n sample keys.
    **options: `vgpnn_jax.Config` fields (default config when empty).

  Returns:
    [n, T, H, W, 3] float32 samples.
  """
  import vgpnn_jax  # the generator may be absent: --skip-ours runs without it
  samples = vgpnn_jax.generate_batch(jax.random.split(key, n),
                                     jnp.asarray(video), **options)
  return np.clip(np.asarray(samples), 0.0, 1.0)


def encoded_like_published(samples: np.ndarray, fps: float = 10.0) -> list:
  """Samples after an H.264 round trip (`io.write_video`, then `read_video`).

  The authors' outputs are published as .mp4: passing ours through the same
  kind of lossy encoding keeps the comparison fair (the encoding alone adds
  coherence). Their encoder settings are unknown; ours are io's (crf 18).
  """
  decoded = []
  with tempfile.TemporaryDirectory() as folder:
    for index, sample in enumerate(samples):
      path = pathlib.Path(folder) / f'sample{index}.mp4'
      io.write_video(path, sample, fps=fps)
      video, _ = io.read_video(path)
      decoded.append(video[:, :sample.shape[1], :sample.shape[2]])
  return decoded


# ----------------------------------------------------------------------------


def summarise(clip: str, method: str, results: dict, diversity: float | None,
              seconds: float, extra: dict | None = None) -> dict:
  row = {
      'clip': clip,
      'method': method,
      'n': len(results['outputs']),
      'diversity': diversity,
      **results['mean'],
      'seconds': round(seconds, 1),
  }
  row.update(extra or {})
  return row


def clip_key(key: jax.Array, clip: str) -> jax.Array:
  """The key of a clip: it depends on the clip, not on which others run."""
  return jax.random.fold_in(key, CLIPS.index(clip))


def method_keys(key: jax.Array) -> dict[str, jax.Array]:
  """One key per method (authors, copy, shuffled, ours) from a clip's key."""
  return {m: jax.random.fold_in(key, i) for i, m in enumerate(METHODS)}


def evaluate_clip(clip: str, args: argparse.Namespace, key: jax.Array,
                  log) -> list[dict]:
  video, author_paths = load_clip(clip, args.data, args.max_size)
  log(f'{clip}: {"x".join(map(str, video.shape[:3]))}')
  options = dict(max_patches=args.max_patches)
  rows = []
  keys = method_keys(key)

  def reused(method):
    # A baseline row of an earlier run (--baselines): it does not depend on
    # our generator's settings.
    row = args.baselines.get((clip, method))
    if row is not None:
      rows.append(row)
      log(f'{clip} {method} (from {args.baselines_path}): {_row_text(row)}')
    return row is not None

  def run(method, outputs, diversity=None, names=None, extra=None):
    start = time.perf_counter()
    results = report.evaluate_videos(video, outputs, key=keys[method],
                                      names=names, reference_name=clip,
                                      progress=log, **options)
    if diversity is None:
      diversity = results['diversity']
    # Per sample too: runs with the same keys pair up sample by sample
    # (search_quality.py).
    per_sample = {stat: [o[stat] for o in results['outputs']]
                  for stat in ('coherence', 'completeness', 'swd')}
    rows.append(summarise(clip, method, results, diversity,
                          time.perf_counter() - start,
                          {'per_sample': per_sample, **(extra or {})}))
    log(f'{clip} {method}: {_row_text(rows[-1])}')

  if author_paths and not reused('authors'):
    outputs = [io.read_video(p, max_size=args.max_size)[0]
               for p in author_paths[:args.num_samples]]
    names = [pathlib.Path(p).name for p in author_paths[:args.num_samples]]
    run('authors', outputs, names=names)
  # A copy: one evaluation stands for all N copies (they score the same); the
  # diversity of N copies is computed, and is 0.
  if not reused('copy'):
    copies = np.stack([video] * max(2, args.num_samples))
    run('copy', [video], diversity=float(metrics.diversity(copies, video)))
  if not reused('shuffled'):
    shuffle_keys = jax.random.split(keys['shuffled'], args.num_shuffled)
    run('shuffled', [shuffled_blocks(k, video) for k in shuffle_keys])
  if not args.skip_ours:
    start = time.perf_counter()
    generate_options = {'search': args.search}
    if args.auto_exact_flops is not None:
      generate_options['auto_exact_flops'] = args.auto_exact_flops
    generate_options.update(cli.alpha_overrides(args.alpha))
    samples = our_samples(video, args.num_samples, keys['ours'],
                          **generate_options)
    generate_s = time.perf_counter() - start
    log(f'{clip} ours: generated {args.num_samples} in {generate_s:.0f} s')
    if not args.raw_ours:
      samples = encoded_like_published(samples)
    run('ours', list(samples), extra={'generate_seconds': round(generate_s, 1)})
  return rows


def _fmt(value) -> str:
  return '-' if value is None else f'{value:.4g}'


def _row_text(row: dict) -> str:
  return (f'diversity {_fmt(row["diversity"])}, coherence '
          f'{_fmt(row["coherence"])}, completeness {_fmt(row["completeness"])}'
          f', SWD {_fmt(row["swd"])} ({row["seconds"]:.0f} s)')


def _mean_table(title: str, rows: list[dict]) -> list[str]:
  """Markdown lines: per method, the mean of each column over its rows."""
  lines = ['', title, '',
           '| method | clips | diversity | coherence | completeness | SWD |',
           '|---|---|---|---|---|---|']
  for method in METHODS:
    chosen = [r for r in rows if r['method'] == method]
    if not chosen:
      continue

    def mean(field):
      values = [r[field] for r in chosen]
      return None if None in values else float(np.mean(values))

    lines.append(f'| {method} | {len(chosen)} | {_fmt(mean("diversity"))} | '
                 f'{_fmt(mean("coherence"))} | {_fmt(mean("completeness"))} | '
                 f'{_fmt(mean("swd"))} |')
  return lines


def markdown(rows: list[dict], args: argparse.Namespace,
             total_s: float) -> str:
  header = ('| clip | method | N | diversity | coherence | completeness | '
            'SWD | eval time (s) |')
  rule = '|---|---|---|---|---|---|---|---|'
  lines = ['# Quality of variations: authors, copy, shuffled blocks, ours', '',
           f'Command: `{" ".join(sys.argv)}`  ', f'Total time: {total_s:.0f} s '
           f'on this machine ({jax.devices()[0].platform}).', '', header, rule]
  for row in rows:
    lines.append(f'| {row["clip"]} | {row["method"]} | {row["n"]} | '
                 f'{_fmt(row["diversity"])} | {_fmt(row["coherence"])} | '
                 f'{_fmt(row["completeness"])} | {_fmt(row["swd"])} | '
                 f'{row["seconds"]:.0f} |')
  with_authors = sorted({r['clip'] for r in rows if r['method'] == 'authors'})
  lines += _mean_table('## Mean over clips', rows)
  if with_authors and len(with_authors) < len({r['clip'] for r in rows}):
    lines += _mean_table(
        f'## Mean over the clips with the authors\' outputs '
        f'({", ".join(with_authors)})',
        [r for r in rows if r['clip'] in with_authors])
  sampled = ('all patches' if args.max_patches is None else
             f'{args.max_patches} randomly sampled query patches per direction'
             ', each searched exactly among all patches of the other video')
  lines += [
      '', '## Conventions', '',
      '- Videos in [0, 1]; diversity: per-voxel std (ddof 0) of BT.601 grey '
      'over the N samples, averaged, over the std of the input\'s grey.',
      f'- Coherence / completeness: mean squared difference per value from '
      f'each 3x7x7x3 output (input) patch to its nearest input (output) '
      f'patch; {sampled}.',
      '- SWD: sliced 2-Wasserstein distance between the patch sets, 128 '
      'random unit directions, mean over spatial scales 1, 2, 4.',
      f'- copy: the input, evaluated once; diversity over '
      f'{max(2, args.num_samples)} copies. shuffled: {args.num_shuffled} '
      f'samples of the input cut into {BLOCK}x{BLOCK} blocks permuted by one '
      f'random permutation shared by all frames (right / bottom remainders '
      f'stay). airballoons: first {AIRBALLOONS_FRAMES} of 20 frames; no '
      f'published outputs.',
  ]
  if args.skip_ours:
    lines.append('- ours: skipped (--skip-ours).')
  else:
    encoding = ('as generated (float)' if args.raw_ours else
                'after an H.264 round trip (crf 18), like the published .mp4 '
                'outputs')
    alpha = ('the default' if args.alpha is None else
             'off' if args.alpha == 'none' else repr(args.alpha))
    lines.append(f'- ours: {args.num_samples} samples of '
                 f'`vgpnn_jax.generate_batch` with the default config '
                 f'(search={args.search!r}, alpha: {alpha}), '
                 f'evaluated {encoding}.')
  if args.max_size is not None:
    lines.append(f'- Every video (inputs, the authors\' outputs) read at most '
                 f'{args.max_size} pixels high (`io.read_video(max_size=...)`'
                 f').')
  return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--clips', nargs='+', default=list(CLIPS),
                      choices=CLIPS)
  parser.add_argument('--num-samples', type=int, default=6)
  parser.add_argument('--num-shuffled', type=int, default=2)
  parser.add_argument('--max-patches', type=int, default=2048,
                      help='query patches per direction; 0 for all')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--skip-ours', action='store_true')
  parser.add_argument('--raw-ours', action='store_true',
                      help='evaluate our samples as generated, without the '
                      'H.264 round trip the published outputs went through')
  parser.add_argument('--search', default='auto',
                      choices=('auto', 'exact', 'patchmatch'),
                      help='the search of our samples (the same keys for any '
                      'search, so runs with different searches pair up)')
  parser.add_argument('--auto-exact-flops', type=float,
                      default=None,
                      help='with --search auto: exact search on the levels '
                      'where it costs at most this many flops (default: the '
                      'library\'s, 5e10; at --max-size '
                      '48, 5e9 runs PatchMatch on the finer half of the '
                      'levels, as the default does at full size)')
  parser.add_argument('--alpha', type=cli.parse_alpha, default=None,
                      help='the completeness term of our samples '
                      '(Config.alpha), "none" for off; default: the '
                      'library\'s (1.0 on the coarsest exact-search levels)')
  parser.add_argument('--max-size', type=int, default=None,
                      help='read every video (inputs and the authors\' '
                      'outputs) at most this many pixels high, so that exact '
                      'search stays affordable')
  parser.add_argument('--data', type=pathlib.Path, default=DATA)
  parser.add_argument('--baselines', type=pathlib.Path, default=None,
                      help='an earlier run\'s .json: its authors, copy and '
                      'shuffled rows are reused (they do not depend on our '
                      'settings; run with the same --seed, --num-samples, '
                      '--max-patches and --max-size), only ours is redone')
  parser.add_argument('--out', type=pathlib.Path,
                      default=REPO / 'experiments' / 'results' /
                      'evaluation.md')
  args = parser.parse_args(argv)
  if args.max_patches == 0:
    args.max_patches = None
  if args.num_samples < 2 or args.num_shuffled < 2:
    parser.error('--num-samples and --num-shuffled must be at least 2 '
                 '(diversity needs two samples)')
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.baselines_path, args.baselines = args.baselines, {}
  if args.baselines_path is not None:
    args.baselines = {(row['clip'], row['method']): row
                      for row in json.loads(args.baselines_path.read_text())
                      if row['method'] != 'ours'}

  def log(line):
    print(line, flush=True)

  start = time.perf_counter()
  key = jax.random.key(args.seed)
  rows = []
  for clip in args.clips:
    rows += evaluate_clip(clip, args, clip_key(key, clip), log)
    # Written after every clip, so a long run leaves partial results.
    text = markdown(rows, args, time.perf_counter() - start)
    args.out.write_text(text)
    args.out.with_suffix('.json').write_text(json.dumps(rows, indent=2))
  print(text)
  print(f'wrote {args.out} and {args.out.with_suffix(".json")}')


if __name__ == '__main__':
  main()
