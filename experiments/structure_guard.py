"""Does a coarse level tell a broken sample early? (issue 18, point 3)

A structure guard would draw K layouts per variation up to some pyramid
level and keep one by its coherence there, before the costly finer levels.
It pays only if a sample that ends incoherent (a broken or repeated object)
already is at that level. Per clip this draws N samples at the default
config, records each sample's output at every level (through the progress
callback) and its final output, and reports:

  * per level, the rank correlation between that level's coherence (against
    the input's pyramid level of the same size) and final coherence
    (H.264-encoded like evaluate.py, 1024 sampled patches);
  * what guards would give, simulated exactly on the same draws: the N
    samples split into N / K groups of K candidate draws, one kept per group
    by a rule, against the first of each group (no guard); the worst and
    mean final coherence and the diversity of the kept samples. The rules
    keep the draw with the lowest coherence at the coarsest level, at the
    level that ranks best, and (an upper bound no guard can reach for free)
    at the final level itself.

    .venv/bin/python experiments/structure_guard.py [--clips bunny,birds]
        [--num 24] [--draws 2,3] [--levels 1,2,3,4] [--save scores.json]
"""

import argparse
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# pylint: disable=g-import-not-at-top,wrong-import-position
import evaluate
import vgpnn_jax
from vgpnn_jax import generation
from vgpnn_jax import metrics
from vgpnn_jax import pyramid
from vgpnn_jax import report


def _ranks(x: np.ndarray) -> np.ndarray:
  return np.argsort(np.argsort(x)).astype(np.float64)


def spearman(a, b) -> float:
  return float(np.corrcoef(_ranks(np.asarray(a)), _ranks(np.asarray(b)))[0, 1])


def draws(clip: str, num: int):
  """(level coherence [levels, num], final [num], samples, video).

  Row 0 of the level coherence is the coarsest level, the last row the
  finest (before encoding).
  """
  video, _ = evaluate.load_clip(clip, evaluate.DATA)
  key = evaluate.method_keys(evaluate.clip_key(jax.random.key(0),
                                               clip))['ours']
  config = vgpnn_jax.make_config()
  levels = vgpnn_jax.plan_levels(video.shape[:3], config)
  inputs = pyramid.build_pyramid(
      jnp.asarray(video), sizes=tuple(l.input_size for l in levels[::-1]))
  captured = []

  def progress(done, total, level, output):
    del done, total, level
    captured.append(np.asarray(output))

  samples = np.clip(np.asarray(vgpnn_jax.generate_batch(
      jax.random.split(key, num), jnp.asarray(video), config,
      progress=progress)), 0, 1)
  # Scored as the guard scores (`generation.layout_coherence`), so a rule
  # simulated here is the one `Config.layout_draws` runs.
  by_level = np.array([
      [float(generation.layout_coherence(jnp.asarray(c), level_input,
                                         level.patch_size))
       for c in outputs]
      for outputs, level_input, level in zip(captured, inputs, levels[::-1])])
  encoded = evaluate.encoded_like_published(samples)
  final = report.evaluate_videos(video, encoded, key=jax.random.key(1),
                                 max_patches=1024, swd_max_patches=2**12,
                                 scales=(1,))
  final = [o['coherence'] for o in final['outputs']]
  return by_level, np.array(final), np.stack(encoded), video


RULES = {
    # The most coherent of the group at the guard level.
    'lowest': np.argmin,
    # The first draw unless it is the group's least coherent (then the next):
    # drops the worst layout but keeps more of the draws' variety.
    'drop the highest': lambda scores: int(
        np.argmax(np.arange(len(scores)) != np.argmax(scores))),
}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--clips', default='bunny,birds,pedestrians')
  parser.add_argument('--num', type=int, default=24)
  parser.add_argument('--draws', default='2,3',
                      help='candidate draws per kept output, comma-separated')
  parser.add_argument('--levels', default='1,2,3,4',
                      help='guard levels to simulate (0 = coarsest), besides '
                      'the coarsest, the best-ranking and the finest')
  parser.add_argument('--save', default=None,
                      help='JSON file to which the per-draw scores are added')
  args = parser.parse_args()
  args.draws = [int(d) for d in args.draws.split(',')]
  args.levels = [int(level) for level in args.levels.split(',')]
  saved = {}
  if args.save and pathlib.Path(args.save).exists():
    saved = json.loads(pathlib.Path(args.save).read_text())
  for clip in args.clips.split(','):
    start = time.perf_counter()
    by_level, final, samples, video = draws(clip, args.num)
    rhos = [spearman(c, final) for c in by_level]
    print(f'{clip}: rank correlation with the final coherence, level 0 '
          f'(coarsest) to {len(rhos) - 1}: '
          + ' '.join(f'{r:.2f}' for r in rhos))
    best = int(np.argmax(rhos[:-1]))
    guard_levels = sorted({0, *args.levels, best, len(rhos) - 1})
    print('| clip | draws | rule | level | rank corr. | worst | mean | '
          'diversity |')
    print('|---|---|---|---|---|---|---|---|')
    for draws_per_output in args.draws:
      groups = np.arange(args.num - args.num % draws_per_output).reshape(
          -1, draws_per_output)
      for name, level in [('none (first draw)', None)] + [
          (rule, level) for level in guard_levels for rule in RULES]:
        if level is None:
          kept, rho, where = groups[:, 0], float('nan'), '-'
        else:
          kept = np.array([g[RULES[name](by_level[level][g])]
                           for g in groups])
          rho, where = rhos[level], str(level)
        diversity = float(metrics.diversity(samples[kept], video))
        print(f'| {clip} | {draws_per_output} | {name} | {where} | '
              f'{rho:.2f} | {final[kept].max():.3g} | '
              f'{final[kept].mean():.3g} | {diversity:.3f} |', flush=True)
    print(f'<!-- {clip}: {time.perf_counter() - start:.0f} s; final '
          f'coherence per draw {np.round(final, 6).tolist()} -->', flush=True)
    if args.save:
      saved[clip] = {'by_level': by_level.tolist(), 'final': final.tolist()}
      pathlib.Path(args.save).write_text(json.dumps(saved))


if __name__ == '__main__':
  main()
