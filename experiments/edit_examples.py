"""The editing applications on real footage, side by side, to look at.

Writes, under outputs/examples/ (ignored by git), for every example a video
`<name>.mp4` (input | region or edit | result) and a still `<name>.png` of
its middle frame, and prints the region's coherence (`metrics.coherence` with
the region as mask; lower is better). An inpainting's grid has a fourth
panel, the fill with its seams blended (`masks.blend_seams`), scored too.

    python experiments/edit_examples.py [--only pedestrians_remove,...]
        [--stills experiments/results/stills]   # small JPEGs for the README

Examples (from ../shared/data, see its README for sources and licences):
  pedestrians_remove  a walking man removed (30 frames at 288x384)
  speedway_remove     a car removed from the motorway
  speedway_add        a car copied into the next lane (edit)
  airballoons_move    a balloon moved (edit: pasted elsewhere, its old place
                      covered with sky)
  airballoons_image   one frame: a balloon removed from an image
  pedestrians_image   one frame: the tripod removed from an image
  background_change   the walking man, cut out with a box, pasted onto the
                      motorway (speedway stretched to the same frame size)
                      and rendered with patches of both (values=, with
                      _original); poor: with a box cut-out the man's own
                      pavement comes along and he is partly eaten in later
                      frames
  background_change_tight  the same, cut out tightly (masks.foreground:
                      background subtraction in a wider box), only his
                      pixels pasted, only a ring from 2 px inside his
                      outline to 4 px outside it free: he is kept whole and
                      his rim of pavement is gone, but he is a pixel or two
                      thinner and a dark smudge, like a blurred shadow,
                      follows him (with all of him free the road's patches
                      erased him)
"""

import argparse
import pathlib
import time

import jax
import numpy as np

from vgpnn_jax import edit
from vgpnn_jax import io
from vgpnn_jax import masks
from vgpnn_jax import metrics
from vgpnn_jax import resampling

DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'
OUT = pathlib.Path(__file__).resolve().parents[1] / 'outputs' / 'examples'


def _moving_box(shape, start, stop, size):
  """[T, H, W] mask of a box whose centre moves linearly from start to stop."""
  t, h, w = shape
  mask = np.zeros(shape, bool)
  for k in range(t):
    f = k / max(t - 1, 1)
    cy = start[0] + f * (stop[0] - start[0])
    cx = start[1] + f * (stop[1] - start[1])
    y0, x0 = int(cy - size[0] / 2), int(cx - size[1] / 2)
    mask[k, max(y0, 0):y0 + size[0], max(x0, 0):x0 + size[1]] = True
  return mask


def pedestrians_remove():
  video, fps = io.read_video(DATA / 'pedestrians_vtest.avi', max_size=288,
                             stop=30)
  hole = _moving_box(video.shape[:3], (132, 132), (116, 198), (68, 42))
  return 'inpaint', video, hole, None, fps


def speedway_remove():
  video, fps = io.read_video(DATA / 'speedway_cc0.mj2', start=20, stop=40)
  hole = _moving_box(video.shape[:3], (116, 240), (84, 210), (30, 40))
  return 'inpaint', video, hole, None, fps


def speedway_add():
  video, fps = io.read_video(DATA / 'speedway_cc0.mj2', start=20, stop=40)
  edited = video.copy()
  # The car's lane, shifted one lane to the right, pasted frame by frame.
  edited[:, 70:130, 250:310] = video[:, 70:130, 200:260]
  return 'edit', video, None, edited, fps


def airballoons_move():
  video, fps = io.read_video(DATA / 'airballoons', stop=6)
  edited = video.copy()
  # The balloon at the top left, pasted to the right; its place covered with
  # the sky beside it.
  edited[:, 5:45, 150:190] = video[:, 5:45, 20:60]
  edited[:, 5:45, 20:60] = video[:, 5:45, 100:140]
  return 'edit', video, None, edited, fps


def airballoons_image():
  video, fps = io.read_video(DATA / 'airballoons' / '1.png')
  hole = np.zeros(video.shape[:3], bool)
  hole[:, 18:42, 190:216] = True  # the striped balloon at the top right
  return 'inpaint', video, hole, None, fps


def write_small_jpeg(path, still, width=720):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = Image.fromarray(np.round(np.clip(still, 0, 1) * 255).astype(
      np.uint8))
  if image.width > width:
    image = image.resize((width, round(image.height * width / image.width)),
                         Image.Resampling.LANCZOS)
  path.parent.mkdir(parents=True, exist_ok=True)
  image.save(path, quality=85)


def _people_and_road():
  """(people [20, 288, 384, 3], road of the same size, fps): the walking
  man's clip and the motorway, stretched to the square's frame size (an
  edit's values must share its frame size)."""
  people, fps = io.read_video(DATA / 'pedestrians_vtest.avi', max_size=288,
                              stop=20)
  road, _ = io.read_video(DATA / 'speedway_cc0.mj2', start=20, stop=40)
  return people, np.asarray(resampling.resize(road, people.shape[:3])), fps


def background_change():
  people, road, fps = _people_and_road()
  person = _moving_box(people.shape[:3], (132, 132), (122, 178), (66, 34))
  # The man, cut out roughly with his box, pasted onto the motorway's verge.
  edited = road.copy()
  shift = (0, 150)
  for t in range(people.shape[0]):
    ys, xs = np.nonzero(person[t])
    edited[t, ys + shift[0], xs + shift[1]] = people[t, ys, xs]
  # The pasted box and a margin may change; patches from both videos.
  region = np.zeros(people.shape[:3], bool)
  for t in range(people.shape[0]):
    ys, xs = np.nonzero(person[t])
    region[t, max(ys.min() - 8, 0):ys.max() + 9,
           max(xs.min() + shift[1] - 8, 0):xs.max() + shift[1] + 9] = True
  return 'edit_values', (people, road), region, edited, fps


def background_change_tight():
  people, road, fps = _people_and_road()
  # A box wider than background_change's (his arm and forward foot reach out
  # of that one), inside which background subtraction finds his outline.
  near = _moving_box(people.shape[:3], (132, 132), (122, 178), (76, 56))
  person = np.asarray(masks.foreground(people, near))
  # Only his own pixels pasted onto the motorway's verge.
  shift = (0, 150)
  pasted = np.roll(person, shift, axis=(1, 2))
  edited = np.where(pasted[..., None], np.roll(people, shift, axis=(1, 2)),
                    road)
  # Only a ring may change: from 2 px inside his outline (its rim of paving)
  # to 4 px outside (8 px: the same, with a wider dark smudge beside him in
  # the early frames); patches from both videos. With all of him free (and
  # 8 px around, entering 5 or 3 levels up) the road's patches won and he
  # was erased: no patch of either video shows a man on a road.
  inside = ~np.asarray(masks.dilate(~pasted, 2))
  region = np.asarray(masks.dilate(pasted, 4)) & ~inside
  return 'edit_values', (people, road), region, edited, fps


def pedestrians_image():
  video, _ = io.read_video(DATA / 'pedestrians_vtest.avi', max_size=288,
                           stop=1)
  hole = np.zeros(video.shape[:3], bool)
  hole[:, 165:242, 226:268] = True  # the tripod on the grass
  return 'inpaint', video, hole, None, 1.0


EXAMPLES = {f.__name__: f for f in (pedestrians_remove, speedway_remove,
                                    speedway_add, airballoons_move,
                                    airballoons_image, pedestrians_image,
                                    background_change,
                                    background_change_tight)}
# airballoons may not be redistributed (../shared/data/README.md): its
# stills stay under outputs/, never in the repository.
NO_STILLS = ('airballoons_move', 'airballoons_image')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--only', default=','.join(EXAMPLES))
  parser.add_argument('--out', default=str(OUT))
  parser.add_argument('--stills', default=None,
                      help='also write a small JPEG of each still here')
  args = parser.parse_args()
  out_dir = io.ensure_writable_dir(args.out)
  for name in args.only.split(','):
    kind, video, hole, edited, fps = EXAMPLES[name]()
    start = time.perf_counter()
    if kind == 'inpaint':
      result = edit.inpaint(jax.random.key(0), video, hole)
      panels = [video, io.tint_region(video, hole)]
      region = hole
    elif kind == 'edit_values':
      # The person's video is the original; the scene's patches render the
      # rest; only the pasted region (and a margin) may change.
      people, video = video
      result = edit.edit(jax.random.key(0), people, edited, mask=hole,
                         values=video, with_original=True)
      panels = [people, edited]
      region = hole
    else:
      result = edit.edit(jax.random.key(0), video, edited)
      panels = [video, edited]
      region = np.any(np.abs(edited - video) > 0.1, axis=-1)
    result = np.asarray(jax.device_get(result))
    seconds = time.perf_counter() - start
    blended = (np.asarray(masks.blend_seams(result, hole))
               if kind == 'inpaint' else None)
    grid = io.make_grid(panels + [result] + (
        [] if blended is None else [blended]))
    io.write_video(out_dir / f'{name}.mp4', grid, fps=fps)
    still = grid[grid.shape[0] // 2]
    io.write_video(out_dir / f'{name}.png', still[None], fps=1)
    if args.stills and name not in NO_STILLS:
      write_small_jpeg(pathlib.Path(args.stills) / f'{name}.jpg', still)
    key = jax.random.key(1)
    score = lambda v, m: float(metrics.coherence(
        v, video, mask=m, max_patches=4000, key=key,
        patch_size=(min(3, video.shape[0]), 7, 7)))
    line = (f'{name:20s} {video.shape[0]}x{video.shape[1]}x{video.shape[2]} '
            f'{seconds:6.1f} s  region coherence {score(result, region):.5f}')
    if kind != 'inpaint':
      line += f' (raw edit {score(edited, region):.5f})'
    else:
      line += f', blended {score(blended, region):.5f}'
    print(line, flush=True)


if __name__ == '__main__':
  main()
