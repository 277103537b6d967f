"""Diversity and coherence of our samples at a few noise levels, per clip.

(Or at a few values of another `vgpnn_jax.Config` field, given third: e.g.
`alpha`, the completeness term, with 'none' for off.)

The samples use the same keys as `evaluate.py` ('ours'), so that a row at
the default noise reproduces that table's row, and the noise levels compare
as pairs. Coherence and completeness use 1024 sampled patches per direction
(evaluate.py: 2048), the SWD one scale: a quick sweep, not the full table.

    .venv/bin/python experiments/noise_sweep.py waterfall,desert 2.5,5.0
    .venv/bin/python experiments/noise_sweep.py birds,cliff none,0.01 alpha
    .venv/bin/python experiments/noise_sweep.py birds 3,5,none alpha_levels
    .venv/bin/python experiments/noise_sweep.py birds 1,3,10 noise_std \
        noise_unit=patch_spread     # further fixed FIELD=VALUE overrides
"""
import pathlib
import sys
import time

import jax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# pylint: disable=g-import-not-at-top,wrong-import-position
import evaluate
from vgpnn_jax import report


def main() -> None:
  if len(sys.argv) < 3:
    sys.exit('usage: noise_sweep.py CLIP[,CLIP...] VALUE[,VALUE...] [FIELD] '
             '(e.g. waterfall,desert 2.5,5.0; FIELD defaults to noise_std)')
  clips, values = sys.argv[1].split(','), sys.argv[2].split(',')
  field = sys.argv[3] if len(sys.argv) >= 4 else 'noise_std'
  fixed = dict(arg.split('=', 1) for arg in sys.argv[4:])
  values = [None if v == 'none' else int(v) if v.isdigit() else float(v)
            for v in values]
  for clip in clips:
    video, _ = evaluate.load_clip(clip, evaluate.DATA)
    # evaluate.py's keys at its default seed 0.
    ours = evaluate.method_keys(evaluate.clip_key(jax.random.key(0),
                                                  clip))['ours']
    for value in values:
      start = time.perf_counter()
      samples = evaluate.our_samples(video, 6, ours,
                                     **{**fixed, field: value})
      encoded = evaluate.encoded_like_published(samples)
      result = report.evaluate_videos(video, encoded, key=jax.random.key(1),
                                      max_patches=1024,
                                      swd_max_patches=2**14, scales=(1,))
      mean = result['mean']
      print(f'| {clip} | {value} | {result["diversity"]:.4f} | '
            f'{mean["coherence"]:.3g} | {mean["completeness"]:.3g} | '
            f'{time.perf_counter() - start:.0f} |', flush=True)


if __name__ == '__main__':
  main()
