"""What the inpainting coherence target can be: the hidden truth scored too.

Issue 16 asks for the hole's coherence (`metrics.coherence` with the hole
as mask) within 1.5x of the coherence of a variation's unmasked regions. The
reference of that score holds the hidden truth, which the fill may not use
(its source patches lie wholly outside the hole), and a variation's patches
are copied whole from the input. So this script also scores, against a
reference whose hole is blanked (set to 10, far outside [0, 1], so that no
patch touching it is ever nearest):

  truth  the input itself in the hole: how new the hidden content is to the
         rest of the clip (a perfect fill scores this);
  fill   the default inpainting (`edit.inpaint`);

and, against the whole input, the fill and a variation in the same region
(the variation's layout differs there; its patches are copies).

    python experiments/inpaint_yardstick.py [--out experiments/results/inpaint_yardstick.md]
"""

import argparse
import pathlib

import jax
import numpy as np

from vgpnn_jax import edit
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import metrics

DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'

# As experiments/inpaint_settings.py: (name, file, max_size, frames, box
# (t0, t1, y0, y1, x0, x1) in read pixels).
CASES = (
    ('pedestrians', 'pedestrians_vtest.avi', 144, (0, 12),
     (0, 12, 40, 90, 60, 90)),
    ('speedway', 'speedway_cc0.mj2', 144, (0, 12), (0, 12, 60, 100, 70, 110)),
    ('tree', 'tree.avi', 144, (0, 12), (0, 12, 30, 70, 60, 110)),
)

_BLANK = 10.0  # a reference value no [0, 1] patch is near


def _score(output, reference, mask, seed):
  return float(metrics.coherence(output, reference, mask=mask,
                                 max_patches=4000, key=jax.random.key(seed)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', default=None)
  args = parser.parse_args()
  rows = []
  for name, file, max_size, (f0, f1), box in CASES:
    video, _ = io.read_video(DATA / file, max_size=max_size, start=f0,
                             stop=f1)
    t0, t1, y0, y1, x0, x1 = box
    hole = np.zeros(video.shape[:3], bool)
    hole[t0:t1, y0:y1, x0:x1] = True
    blanked = np.where(hole[..., None], _BLANK, video).astype(np.float32)
    variation = np.asarray(generation.generate(jax.random.key(0), video))
    fill = np.asarray(edit.inpaint(jax.random.key(1), video, hole))
    row = dict(
        clip=name,
        variation_outside=_score(variation, video, ~hole, 1),
        variation_hole=_score(variation, video, hole, 2),
        fill=_score(fill, video, hole, 2),
        fill_blanked=_score(fill, blanked, hole, 2),
        truth_blanked=_score(video, blanked, hole, 2))
    rows.append(row)
    print(row, flush=True)
  lines = [
      '| clip | variation, outside the hole | variation, in the hole | fill '
      '| fill / variation outside | fill, hole blanked | truth, hole blanked '
      '| truth / variation outside | fill / truth (blanked) |',
      '|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(
        f"| {r['clip']} | {r['variation_outside']:.5f} | "
        f"{r['variation_hole']:.5f} | {r['fill']:.5f} | "
        f"{r['fill'] / r['variation_outside']:.2f} | "
        f"{r['fill_blanked']:.5f} | {r['truth_blanked']:.5f} | "
        f"{r['truth_blanked'] / r['variation_outside']:.2f} | "
        f"{r['fill_blanked'] / r['truth_blanked']:.2f} |")
  table = '\n'.join(lines)
  print(table)
  if args.out:
    pathlib.Path(args.out).write_text(
        '# The inpainting coherence yardstick\n\n'
        f'`python experiments/inpaint_yardstick.py --out {args.out}` on '
        f'{jax.devices()[0].device_kind} ({jax.default_backend()}); '
        'coherence (lower is better) of 3x7x7 patches, 4000 drawn per '
        'score.\n\n' + table + '\n')


if __name__ == '__main__':
  main()
