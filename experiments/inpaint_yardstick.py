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

    python experiments/inpaint_yardstick.py \
        [--out experiments/results/inpaint_yardstick.md]
"""

import argparse
import pathlib

import jax
import numpy as np

from vgpnn_jax import edit
from vgpnn_jax import generation

import inpaint_settings  # the same folder: its clips, holes and score

_BLANK = 10.0  # a reference value no [0, 1] patch is near


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', default=None)
  args = parser.parse_args()
  score = inpaint_settings.score
  rows = []
  for case in inpaint_settings.CASES:
    name, video, hole = inpaint_settings.load_case(case)
    blanked = np.where(hole[..., None], _BLANK, video).astype(np.float32)
    variation = np.asarray(generation.generate(jax.random.key(0), video))
    fill = np.asarray(edit.inpaint(jax.random.key(1), video, hole))
    row = dict(
        clip=name,
        variation_outside=score(variation, video, ~hole, 1),
        variation_hole=score(variation, video, hole, 2),
        fill=score(fill, video, hole, 2),
        fill_blanked=score(fill, blanked, hole, 2),
        truth_blanked=score(video, blanked, hole, 2))
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
