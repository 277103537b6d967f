"""Does the coarsest level tell a broken sample early? (issue 18, point 3)

A structure guard would draw K coarsest-level layouts per variation and
keep one by its coherence there, before the costly finer levels. It pays
only if a sample that ends incoherent (a broken or repeated object) already
is at the coarsest level. Per clip this draws N samples at the default
config, records each sample's coarsest-level output (through the progress
callback) and its final output, and reports:

  * the rank correlation between coarsest-level coherence (against the
    coarsest input level) and final coherence (H.264-encoded like
    evaluate.py, 1024 sampled patches);
  * what guards would give, simulated exactly on the same draws: the N
    samples split into N / K groups of K candidate draws, one kept per group
    by a rule, against the first of each group (no guard); the worst and
    mean final coherence and the diversity of the kept samples.

    .venv/bin/python experiments/structure_guard.py [--clips bunny,birds]
        [--num 24] [--draws 3]
"""

import argparse
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
from vgpnn_jax import metrics
from vgpnn_jax import pyramid
from vgpnn_jax import report


def _ranks(x: np.ndarray) -> np.ndarray:
  return np.argsort(np.argsort(x)).astype(np.float64)


def spearman(a, b) -> float:
  return float(np.corrcoef(_ranks(np.asarray(a)), _ranks(np.asarray(b)))[0, 1])


def draws(clip: str, num: int):
  """(coarsest coherence [num], final coherence [num], samples, video)."""
  video, _ = evaluate.load_clip(clip, evaluate.DATA)
  key = evaluate.method_keys(evaluate.clip_key(jax.random.key(0),
                                               clip))['ours']
  config = vgpnn_jax.make_config()
  levels = vgpnn_jax.plan_levels(video.shape[:3], config)
  coarsest_input = pyramid.build_pyramid(
      jnp.asarray(video), sizes=(levels[-1].input_size,))[0]
  captured = {}

  def progress(done, total, level, output):
    del total, level
    if done == 0:
      captured['coarsest'] = np.asarray(output)

  samples = np.clip(np.asarray(vgpnn_jax.generate_batch(
      jax.random.split(key, num), jnp.asarray(video), config,
      progress=progress)), 0, 1)
  coarse = [float(metrics.coherence(c, coarsest_input,
                                    patch_size=levels[-1].patch_size))
            for c in captured['coarsest']]
  encoded = evaluate.encoded_like_published(samples)
  final = report.evaluate_videos(video, encoded, key=jax.random.key(1),
                                 max_patches=1024, swd_max_patches=2**12,
                                 scales=(1,))
  final = [o['coherence'] for o in final['outputs']]
  return np.array(coarse), np.array(final), np.stack(encoded), video


RULES = {
    'none (first draw)': lambda coarse: 0,
    'lowest coarse coherence': np.argmin,
    'first below the group median': lambda coarse: int(np.argmax(
        coarse <= np.median(coarse))),
}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--clips', default='bunny,birds,pedestrians')
  parser.add_argument('--num', type=int, default=24)
  parser.add_argument('--draws', type=int, default=3)
  args = parser.parse_args()
  print('| clip | rank corr. coarse/final | rule | worst | mean | diversity |')
  print('|---|---|---|---|---|---|')
  for clip in args.clips.split(','):
    start = time.perf_counter()
    coarse, final, samples, video = draws(clip, args.num)
    rho = spearman(coarse, final)
    groups = np.arange(args.num - args.num % args.draws).reshape(
        -1, args.draws)
    for name, rule in RULES.items():
      kept = np.array([g[rule(coarse[g])] for g in groups])
      diversity = float(metrics.diversity(samples[kept], video))
      print(f'| {clip} | {rho:.2f} | {name} | {final[kept].max():.3g} | '
            f'{final[kept].mean():.3g} | {diversity:.3f} |', flush=True)
    print(f'<!-- {clip}: {time.perf_counter() - start:.0f} s; final '
          f'coherence per draw {np.round(final, 6).tolist()} -->', flush=True)


if __name__ == '__main__':
  main()
