"""How well an analogy keeps the structure's motion and the appearance's look.

For pairs structure -> appearance (13 frames, 144 px high) `analogy.analogy`
(and `analogy.sketch` for drawings) runs with several settings; scored:

* structure kept: Pearson correlation between `motion.motion_cue` (with
  the analogy's flow options, `analogy.CUE_FLOW`) of the output and of the
  structure (higher is better); for sketches also how well
  the output's colour regions follow the sketch's: the output's pixels are
  clustered (k-means, k = the sketch's colours) and
  compared with the sketch's regions by the adjusted Rand index and by the
  accuracy under the best one-to-one label matching (higher is better);
* appearance kept: `metrics.coherence` and `metrics.completeness` of the
  output against the appearance video (3x7x7 patches, a random subset of
  patches; lower is better), next to the same for a plain variation of the
  appearance (`generation.generate` with defaults), the yardstick;
* seconds per analogy (the first run of a shape compiles, unless the
  persistent cache has it; a 'time' row reruns the first case warm).

    python experiments/analogy_measures.py [--sweep airballoons_tree,...] \
        [--out experiments/results/analogy_measures.md]
"""

import argparse
import itertools
import os
import pathlib
import time

import jax
import numpy as np

from vgpnn_jax import analogy
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import motion
from vgpnn_jax import sketches

DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'
FRAMES = 13
MAX_SIZE = 144
PATCH = (3, 7, 7)
# All levels carry the cue (more than any pyramid here has).
ALL_LEVELS = 1000


def _read(name, start=0):
  file = {'airballoons': 'airballoons', 'tree': 'tree.avi',
          'speedway': 'speedway_cc0.mj2',
          'pedestrians': 'pedestrians_vtest.avi'}[name]
  video, _ = io.read_video(DATA / file, max_size=MAX_SIZE, start=start,
                           stop=start + FRAMES)
  return video


def _cases():
  """name -> (kind, structure, appearance name, appearance)."""
  balloons, tree = _read('airballoons'), _read('tree')
  speedway, pedestrians = _read('speedway'), _read('pedestrians')
  later = _read('speedway', start=100)
  disc = sketches.moving_disc(balloons.shape[:3])
  drawing = np.asarray(sketches.from_video(speedway, 4))
  return {
      'airballoons_tree': ('analogy', balloons, 'tree', tree),
      'speedway_pedestrians': ('analogy', speedway, 'pedestrians',
                               pedestrians),
      'disc_airballoons': ('sketch', disc, 'airballoons', balloons),
      'sketch_speedway': ('sketch', drawing, 'speedway 100:113', later),
  }


# (label, analogy options); the first is the default.
DEFAULT = ('default (weight 1)', {})
SWEEP = (
    ('weight 0', dict(structure_weight=0.0)),
    ('weight 0.5', dict(structure_weight=0.5)),
    DEFAULT,
    ('weight 2', dict(structure_weight=2.0)),
    ('weight 4', dict(structure_weight=4.0)),
    ('weight 1, no colour match', dict(match_start_colours=False)),
    ('weight 1, cue on all levels', dict(cue_levels=ALL_LEVELS)),
    ('weight 4, cue on all levels', dict(structure_weight=4.0,
                                         cue_levels=ALL_LEVELS)),
)


def _pearson(a, b):
  a, b = np.ravel(a) - np.mean(a), np.ravel(b) - np.mean(b)
  norm = np.sqrt(np.sum(a * a) * np.sum(b * b))
  return float(np.sum(a * b) / norm) if norm > 0 else float('nan')


def _regions(drawing):
  """[T, H, W] int labels of a sketch's flat colours, and their count."""
  colours, labels = np.unique(np.round(drawing.reshape(-1, 3), 4), axis=0,
                              return_inverse=True)
  return labels.reshape(drawing.shape[:3]), len(colours)


def _adjusted_rand(a, b):
  a, b = np.ravel(a), np.ravel(b)
  table = np.zeros((a.max() + 1, b.max() + 1))
  np.add.at(table, (a, b), 1)
  pairs = lambda x: np.sum(x * (x - 1) / 2)
  index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
  expected = rows * cols / pairs(np.array([a.size]))
  top = (rows + cols) / 2
  return float((index - expected) / (top - expected)), table


def _nearest(pixels, centres):
  return np.argmin(((pixels[:, None] - centres[None]) ** 2).sum(-1), 1)


def _kmeans(pixels, k, restarts=8, iters=30, subset=20000, seed=0):
  """[k, 3] centres: k-means++ starts, the restart of least inertia kept.

  Not `sketches.kmeans_colours`: its brightness-quantile start puts two
  centres on a large region and none on a small one (on `moving_disc` it
  returns the sky twice and no disc).
  """
  rng = np.random.default_rng(seed)
  points = pixels[rng.choice(len(pixels), min(subset, len(pixels)),
                             replace=False)].astype(np.float64)
  best, best_inertia = None, np.inf
  for _ in range(restarts):
    centres = points[rng.integers(len(points))][None]
    while len(centres) < k:
      d = ((points[:, None] - centres[None]) ** 2).sum(-1).min(1)
      centres = np.vstack([centres, points[rng.choice(len(points),
                                                      p=d / d.sum())]])
    for _ in range(iters):
      labels = _nearest(points, centres)
      centres = np.stack([points[labels == j].mean(0) if np.any(labels == j)
                          else centres[j] for j in range(k)])
    inertia = ((points - centres[_nearest(points, centres)]) ** 2).sum()
    if inertia < best_inertia:
      best, best_inertia = centres, inertia
  return best


def _region_scores(output, drawing):
  """(adjusted Rand index, best-matching accuracy) of output vs sketch."""
  truth, k = _regions(drawing)
  pixels = output.reshape(-1, 3)
  labels = _nearest(pixels, _kmeans(pixels, k))
  ari, table = _adjusted_rand(truth, labels)
  best = max(sum(table[i, p[i]] for i in range(k))
             for p in itertools.permutations(range(table.shape[1]), k))
  return ari, float(best / truth.size)


def _appearance_scores(output, appearance, samples):
  coh = float(metrics.coherence(output, appearance, patch_size=PATCH,
                                max_patches=samples, key=jax.random.key(1)))
  com = float(metrics.completeness(output, appearance, patch_size=PATCH,
                                   max_patches=samples,
                                   key=jax.random.key(2)))
  return coh, com


def _save_still(path, videos):
  frames = [np.asarray(v)[v.shape[0] // 2] for v in videos]
  height = min(f.shape[0] for f in frames)
  frames = [f[:height] for f in frames]
  gap = np.ones((height, 4, 3), np.float32)
  strip = np.concatenate(sum(([f, gap] for f in frames), [])[:-1], axis=1)
  io.write_video(path, strip[None], fps=1)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--cases', default='airballoons_tree,'
                      'speedway_pedestrians,disc_airballoons,sketch_speedway')
  parser.add_argument('--sweep', default='airballoons_tree,'
                      'speedway_pedestrians',
                      help='cases that get every setting of SWEEP (the '
                      'others: the default only)')
  parser.add_argument('--samples', type=int, default=1000,
                      help='patches the metrics average over')
  parser.add_argument('--stills', default='/tmp/measures',
                      help='mid-frame PNGs (structure | output | appearance)')
  parser.add_argument('--out', default=None)
  args = parser.parse_args()
  jax.config.update('jax_compilation_cache_dir',
                    os.environ.get('VGPNN_JAX_CACHE', '/tmp/vgpnn_jax_cache'))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.2)
  cases = _cases()
  yard = {}
  rows, yard_rows, time_rows = [], [], []
  for name in args.cases.split(','):
    kind, structure, look, appearance = cases[name]
    if look not in yard:
      start = time.perf_counter()
      plain = np.asarray(jax.device_get(generation.generate(
          jax.random.key(0), appearance)))
      seconds = time.perf_counter() - start
      yard[look] = _appearance_scores(plain, appearance, args.samples)
      yard_rows.append((look, *yard[look], seconds))
      print(f'variation of {look}: coherence {yard[look][0]:.5f} '
            f'completeness {yard[look][1]:.5f} {seconds:.1f} s', flush=True)
    run = analogy.sketch if kind == 'sketch' else analogy.analogy
    cue = np.asarray(motion.motion_cue(structure, **analogy.CUE_FLOW))
    settings = SWEEP if name in args.sweep.split(',') else (DEFAULT,)
    for label, options in settings:
      start = time.perf_counter()
      out = np.asarray(jax.device_get(run(jax.random.key(0), structure,
                                          appearance, **options)))
      seconds = time.perf_counter() - start
      corr = _pearson(
          np.asarray(motion.motion_cue(out, **analogy.CUE_FLOW)), cue)
      regions = (_region_scores(out, structure) if kind == 'sketch'
                 else (float('nan'), float('nan')))
      coh, com = _appearance_scores(out, appearance, args.samples)
      rows.append((name, label, corr, *regions, coh, coh / yard[look][0],
                   com, com / yard[look][1], seconds))
      print(f'{name} {label}: motion r {corr:.3f} regions ARI '
            f'{regions[0]:.3f} acc {regions[1]:.3f} coherence {coh:.5f} '
            f'completeness {com:.5f} {seconds:.1f} s', flush=True)
      if args.stills:
        pathlib.Path(args.stills).mkdir(parents=True, exist_ok=True)
        slug = label.replace(' ', '_').replace(',', '').replace('(', '')
        _save_still(pathlib.Path(args.stills) /
                    f'{name}_{slug.replace(")", "")}.png',
                    [structure, out, appearance])
      if label == DEFAULT[0] and not time_rows:
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.key(1), structure, appearance,
                                  **options))
        again = time.perf_counter() - start
        time_rows.append((name, structure.shape, seconds, again))
        print(f'time {name} {structure.shape}: {seconds:.1f} s, again '
              f'{again:.1f} s', flush=True)
  fmt = lambda x: '-' if np.isnan(x) else f'{x:.3f}'
  lines = ['| case | setting | motion-cue r (structure) | regions ARI | '
           'regions accuracy | coherence | / variation\'s | completeness | '
           '/ variation\'s | seconds |', '|---|---|---|---|---|---|---|---|'
           '---|---|']
  lines += [f'| {n} | {l} | {r:.3f} | {fmt(a)} | {fmt(p)} | {c:.5f} | '
            f'{cr:.2f} | {m:.5f} | {mr:.2f} | {s:.1f} |'
            for n, l, r, a, p, c, cr, m, mr, s in rows]
  lines += ['', '| plain variation of | coherence | completeness | seconds |',
            '|---|---|---|---|']
  lines += [f'| {n} | {c:.5f} | {m:.5f} | {s:.1f} |'
            for n, c, m, s in yard_rows]
  lines += ['', '| time: case | size | first run (s) | second run, cached '
            'compile (s) |', '|---|---|---|---|']
  lines += [f'| {n} | {"x".join(map(str, sh[:3]))} | {a:.1f} | {b:.1f} |'
            for n, sh, a, b in time_rows]
  table = '\n'.join(lines)
  print(table)
  if args.out:
    pathlib.Path(args.out).write_text(
        '# Analogy measures\n\n`python experiments/analogy_measures.py '
        f'--out {args.out}` on {jax.devices()[0].device_kind} '
        f'({jax.default_backend()}), {FRAMES} frames, {MAX_SIZE} px high; '
        'metrics on 3x7x7 patches, '
        f'{args.samples} sampled; seconds include compilation where a '
        'shape is first run (the persistent cache may hold it).\n\n' +
        table + '\n')


if __name__ == '__main__':
  main()
