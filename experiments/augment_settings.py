"""Cost, diversity and coherence of a few cheap `augment` settings.

On the bundled bunny cut to 8x72x128 and a speedway clip (8 frames, 72 px
high, /work/shared/data), for each candidate setting: seconds per clip of a
batch of 4 variants of one clip (after a warm-up call: compiled, cached),
the papers' diversity of those 4 variants, and their coherence (mean squared
distance per value from each variant's 3x7x7 patches to the nearest input
patch; lower is closer to the input's own look). The first call's time
(compilation included) is reported too. Writes experiments/results/augment.md.

    PYTHONPATH=. python experiments/augment_settings.py [--quick]
"""
import pathlib
import sys
import time

import jax
import jax.numpy as jnp

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# pylint: disable=g-import-not-at-top,wrong-import-position
from vgpnn_jax import augment as augment_lib
from vgpnn_jax import io
from vgpnn_jax import metrics

DATA = pathlib.Path('/work/shared/data')
BATCH = 4
# Candidate cheap settings (AUGMENT_DEFAULTS fields overridden).
CANDIDATES = {
    '3 levels, J=1': dict(max_levels=3, num_iters=1),
    '4 levels, J=1': dict(max_levels=4, num_iters=1),
    '4 levels, J=2': dict(max_levels=4, num_iters=2),
    '6 levels, J=1': dict(max_levels=6, num_iters=1),
}


def clips() -> dict[str, jax.Array]:
  """name -> [T, H, W, 3] clip."""
  bunny, _ = io.read_video(ROOT / 'vgpnn_jax' / 'data' / 'bunny.mp4',
                           max_size=72, stop=8)
  out = {'bunny 8x72x128': jnp.asarray(bunny[:, :, :128])}
  speedway = DATA / 'speedway_cc0.mj2'
  if speedway.exists():
    video, _ = io.read_video(speedway, max_size=72, start=40, stop=48)
    out[f'speedway {"x".join(map(str, video.shape[:3]))}'] = jnp.asarray(
        video)
  return out


def measure(name: str, clip: jax.Array, overrides: dict) -> dict:
  config = augment_lib.augment_config(**overrides)
  batch = jnp.broadcast_to(clip, (BATCH,) + clip.shape)
  start = time.perf_counter()
  augment_lib.augment(jax.random.key(0), batch, config).block_until_ready()
  first = time.perf_counter() - start
  times = []
  for seed in (1, 2):
    start = time.perf_counter()
    out = augment_lib.augment(jax.random.key(seed), batch, config)
    out.block_until_ready()
    times.append(time.perf_counter() - start)
  diversity = float(metrics.diversity(out, clip))
  # 1024 sampled output patches per variant (an unbiased estimate): the
  # exact mean over all ~48k costs ~40 s per variant here.
  coherence = sum(float(metrics.coherence(v, clip, max_patches=1024,
                                          key=jax.random.key(i)))
                  for i, v in enumerate(out)) / BATCH
  row = dict(clip=name, setting=overrides, first=first,
             per_clip=min(times) / BATCH, diversity=diversity,
             coherence=coherence)
  print(row, flush=True)
  return row


def main() -> None:
  jax.config.update('jax_compilation_cache_dir', '/tmp/vcache20')
  quick = '--quick' in sys.argv
  candidates = dict(list(CANDIDATES.items())[:1]) if quick else CANDIDATES
  rows = []
  for clip_name, clip in clips().items():
    for label, overrides in candidates.items():
      row = measure(clip_name, clip, overrides)
      row['label'] = label
      rows.append(row)
  lines = [
      '# augment: cheap settings', '',
      f'`experiments/augment_settings.py`, jax {jax.__version__}, '
      f'{jax.devices()[0].platform} ({jax.device_count()} device(s)), this '
      f'machine\'s 2 shared CPU cores. Batch of {BATCH} variants of one '
      'clip; seconds per clip after a warm-up call (min of 2 calls); first '
      'call: compilation included, for the batch. Every setting is '
      '`AUGMENT_DEFAULTS` (search auto, no completeness term, no structure '
      'guard, noise 20 patch spreads) with the levels and iterations shown. '
      'Diversity: the papers\' score over the 4 variants; coherence: mean '
      'squared distance per value from 1024 sampled 3x7x7 patches of each '
      'variant to the nearest input patch, averaged over the variants.', '',
      '| clip | setting | s / clip | first call (s) | diversity | '
      'coherence |',
      '|---|---|---:|---:|---:|---:|']
  for row in rows:
    lines.append(f'| {row["clip"]} | {row["label"]} | {row["per_clip"]:.2f} '
                 f'| {row["first"]:.1f} | {row["diversity"]:.3f} | '
                 f'{row["coherence"]:.5f} |')
  out = ROOT / 'experiments' / 'results' / ('augment_quick.md' if quick
                                            else 'augment.md')
  out.write_text('\n'.join(lines) + '\n')
  print('\n'.join(lines))


if __name__ == '__main__':
  main()
