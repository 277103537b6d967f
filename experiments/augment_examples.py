"""A still of `augment`'s variants beside the clip they come from.

    python experiments/augment_examples.py [--out experiments/results/stills/augment.jpg]

Row 1: the bundled sample cut to 8x72x128 (a training-size clip); rows 2-4:
three variants from one `augment` call with AUGMENT_DEFAULTS (one key, split
per clip); 4 frames each, evenly spaced.
"""

import argparse
import pathlib

import jax
import mediapy
import numpy as np

from vgpnn_jax import io
from vgpnn_jax import resampling
from vgpnn_jax.augment import augment

_SAMPLE = pathlib.Path(__file__).parent.parent / 'vgpnn_jax/data/bunny.mp4'


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', type=pathlib.Path,
                      default=pathlib.Path('outputs/augment.jpg'))
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  video, _ = io.read_video(_SAMPLE)
  clip = np.asarray(resampling.resize(video[:8], (8, 72, 128)))
  variants = np.asarray(augment(jax.random.key(args.seed),
                                np.stack([clip] * 3)))
  sheet = io.contact_sheet([clip, *variants])[0]
  args.out.parent.mkdir(parents=True, exist_ok=True)
  mediapy.write_image(args.out, sheet,
                      fmt='jpeg' if args.out.suffix in ('.jpg', '.jpeg') else 'png')
  print(f'wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})')


if __name__ == '__main__':
  main()
