"""The inpainting fill's seam at the hole border, measured (issue 16).

For each clip of experiments/inpaint_settings.py a box is hidden and refilled
with each setting; the fill's coherence (`metrics.coherence`, patches whose
centre lies in the region; lower is better) is scored over the whole hole,
its interior (centres >= 4 px inside the border, in the frame), the ring just
inside the border (< 4 px) and the ring just outside it (centres < 4 px
outside: patches that hold known voxels and some of the fill), with the same
drawn patches for every setting. Voxels outside the hole are checked to be
the input's, exactly. Seconds are a second (cached) run.

    python experiments/inpaint_seam.py [--out experiments/results/inpaint_seam.md]
        [--stills DIR]   # middle frames: input | hole | each setting's fill
"""

import argparse
import pathlib
import time

import jax
import numpy as np
from scipy import ndimage

from vgpnn_jax import edit
from vgpnn_jax import metrics

import inpaint_settings  # the same folder: its clips, holes and loader

RING = 4  # px, in the frame

SETTINGS = (
    # (label, inpaint overrides)
    ('default', {}),
    ('known_weight 4', dict(known_weight=4.0)),
    ('known_weight 16', dict(known_weight=16.0)),
    ('match_weight 1', dict(match_weight=1.0)),
    ('known 4 + match 1', dict(known_weight=4.0, match_weight=1.0)),
    ('J=10 at the 2 finest', dict(finest_iters=(10, 10))),
    ('known_weight 16, coarsest 8', dict(known_weight=16.0, weight_levels=8)),
    ('known_weight 4, coarsest 8', dict(known_weight=4.0, weight_levels=8)),
    # An oracle, not a fill: the hidden truth as the start (a colour cue).
    ('truth as the start (oracle)', dict(cue='truth')),
)


def regions(hole: np.ndarray) -> dict[str, np.ndarray]:
  """hole, interior, ring inside and ring outside, [T, H, W] bool each."""
  frame = np.zeros((1, 2 * RING - 1, 2 * RING - 1), bool)
  frame[0] = True  # a square in the frame: the Chebyshev distance
  interior = ndimage.binary_erosion(hole, frame, border_value=1)
  grown = ndimage.binary_dilation(hole, frame)
  return dict(hole=hole, interior=interior, ring_in=hole & ~interior,
              ring_out=grown & ~hole)


def score(output, video, region, seed):
  return float(metrics.coherence(output, video, mask=region,
                                 max_patches=2000, key=jax.random.key(seed)))


def still(video, hole, outputs):
  """The middle frame: input | hole (blanked) | each output, [H, W', 3]."""
  t = video.shape[0] // 2
  gap = np.ones((video.shape[1], 4, 3), np.float32)
  blanked = np.where(hole[t][..., None], 1.0, video[t])
  parts = [video[t], blanked] + [o[t] for o in outputs]
  joined = []
  for part in parts:
    joined += [part, gap]
  return np.clip(np.concatenate(joined[:-1], axis=1), 0, 1)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', default=None)
  parser.add_argument('--stills', default=None)
  parser.add_argument('--only', default=None,
                      help='semicolon-separated setting labels')
  parser.add_argument('--clips', default=None, help='comma-separated clips')
  args = parser.parse_args()
  settings = SETTINGS
  if args.only:
    wanted = args.only.split(';')
    settings = [s for s in SETTINGS if s[0] in wanted]
  if args.stills:
    pathlib.Path(args.stills).mkdir(parents=True, exist_ok=True)
  rows = []
  for case in inpaint_settings.CASES:
    if args.clips and case[0] not in args.clips.split(','):
      continue
    name, video, hole = inpaint_settings.load_case(case)
    masks = regions(hole)
    outputs = []
    for label, overrides in settings:
      if overrides.get('cue') == 'truth':
        overrides = dict(overrides, cue=video)
      edit.inpaint(jax.random.key(0), video, hole, **overrides)  # compile
      begin = time.perf_counter()
      out = np.asarray(jax.device_get(
          edit.inpaint(jax.random.key(1), video, hole, **overrides)))
      seconds = time.perf_counter() - begin
      exact = bool(np.array_equal(out[~hole], np.asarray(video)[~hole]))
      row = dict(clip=name, setting=label, seconds=seconds, exact=exact)
      for index, (region, mask) in enumerate(masks.items()):
        row[region] = score(out, video, mask, 10 + index)
      rows.append(row)
      outputs.append(out)
      print(row, flush=True)
    if args.stills:
      from PIL import Image  # pylint: disable=g-import-not-at-top
      frame = still(np.asarray(video), hole, outputs)
      Image.fromarray((frame * 255 + 0.5).astype(np.uint8)).save(
          pathlib.Path(args.stills) / f'{name}.png')
  lines = ['| clip | setting | hole | interior | ring inside | ring outside '
           '| outside exact | seconds (cached) |',
           '|---|---|---|---|---|---|---|---|']
  lines += [f"| {r['clip']} | {r['setting']} | {r['hole']:.5f} | "
            f"{r['interior']:.5f} | {r['ring_in']:.5f} | "
            f"{r['ring_out']:.5f} | {'yes' if r['exact'] else 'NO'} | "
            f"{r['seconds']:.1f} |" for r in rows]
  table = '\n'.join(lines)
  print(table)
  if args.out:
    pathlib.Path(args.out).write_text(
        '# The inpainting seam\n\n`python experiments/inpaint_seam.py --out '
        f'{args.out}` on {jax.devices()[0].device_kind} '
        f'({jax.default_backend()}): coherence (lower is better) of 3x7x7 '
        'patches, 2000 drawn per score; rings 4 px wide in the frame.\n\n' +
        table + '\n')


if __name__ == '__main__':
  main()
