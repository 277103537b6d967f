"""Tests for the masks, boxes and video metadata of vgpnn_jax.io."""

import fractions

import numpy as np
import pytest
from PIL import Image

from vgpnn_jax import io as vio
from vgpnn_jax.errors import InputError


def block_masks(t=5, h=24, w=32):
  """[t, h, w] bool: a white block that moves and grows from frame to frame."""
  mask = np.zeros((t, h, w), bool)
  for i in range(t):
    mask[i, 3 + i : 11 + 2 * i, 2 + 3 * i : 9 + 4 * i] = True
  return mask


def as_video(mask):
  """A bool mask [T, H, W] as a white-on-black float video [T, H, W, 3]."""
  return np.repeat(mask[..., None], 3, axis=-1).astype(np.float32)


def write_mask_frames(folder, mask):
  folder.mkdir(parents=True, exist_ok=True)
  for i, frame in enumerate(mask):
    Image.fromarray(frame.astype(np.uint8) * 255).save(folder / f'{i + 1}.png')


def brute_force_resize(mask, hw):
  """Any-overlap resize: target pixel True if it overlaps a True source pixel.

  Target pixel i covers [i / H, (i + 1) / H) of the frame and source pixel j
  covers [j / h, (j + 1) / h); they overlap iff (i + 1) h > j H and
  (j + 1) H > i h (cross-multiplied, exact in integers).
  """
  (_, h, w), (height, width) = mask.shape, hw

  def overlaps(n, m):
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    return ((i + 1) * n > j * m) & ((j + 1) * m > i * n)  # [m, n]

  rows, cols = overlaps(h, height), overlaps(w, width)
  out = np.zeros((mask.shape[0], height, width), bool)
  for t in range(mask.shape[0]):
    for i in range(height):
      for k in range(width):
        out[t, i, k] = mask[t][np.ix_(rows[i], cols[k])].any()
  return out


# ----------------------------------------------------------------------------
# read_mask: formats.


def test_mask_png_folder_round_trip(tmp_path):
  mask = block_masks()
  write_mask_frames(tmp_path / 'm', mask)
  out = vio.read_mask(tmp_path / 'm', size=mask.shape)
  assert out.dtype == bool and out.shape == mask.shape
  np.testing.assert_array_equal(out, mask)


def test_mask_single_png_is_repeated(tmp_path):
  mask = block_masks(1)[0]
  vio.write_video(tmp_path / 'm.png', as_video(mask[None]), fps=1)
  out = vio.read_mask(tmp_path / 'm.png', size=(7, 24, 32))
  assert out.shape == (7, 24, 32)
  np.testing.assert_array_equal(out, np.broadcast_to(mask, (7, 24, 32)))
  # The range of the video does not apply to a single image.
  out = vio.read_mask(tmp_path / 'm.png', size=(2, 24, 32), start=30, step=5)
  np.testing.assert_array_equal(out, np.broadcast_to(mask, (2, 24, 32)))


def test_mask_mp4_survives_compression(tmp_path):
  mask = block_masks()
  path = tmp_path / 'm.mp4'
  vio.write_video(path, as_video(mask), fps=10)
  decoded, _ = vio.read_video(path)
  assert not np.isin(decoded, (0.0, 1.0)).all()  # the codec did change pixels
  np.testing.assert_array_equal(vio.read_mask(path, size=mask.shape), mask)


def test_mask_threshold_on_grey_value(tmp_path):
  frame = np.zeros((2, 4, 3), np.uint8)
  frame[0, 0] = 128  # grey 0.502: fill
  frame[0, 1] = 127  # grey 0.498: keep
  frame[0, 2] = [255, 255, 0]  # yellow, grey 0.667: fill
  frame[0, 3] = [255, 0, 0]  # red, grey 0.333: keep
  frame[1] = 255
  Image.fromarray(frame).save(tmp_path / 'm.png')
  out = vio.read_mask(tmp_path / 'm.png', size=(1, 2, 4))
  np.testing.assert_array_equal(
      out[0], [[True, False, True, False], [True] * 4]
  )


def test_empty_and_full_masks_are_returned(tmp_path):
  for value in (0, 1):
    vio.write_video(
        tmp_path / 'm.png', np.full((1, 8, 8, 3), value, np.float32), fps=1
    )
    out = vio.read_mask(tmp_path / 'm.png', size=(3, 8, 8))
    assert out.shape == (3, 8, 8) and (out == bool(value)).all()


@pytest.mark.parametrize(
    'start, stop, step',
    [(None, None, 1), (2, 9, 3), (5, None, 1), (-4, None, 1),
     (None, None, -1), (8, 1, -2)],
)
def test_mask_frame_range_like_read_video(tmp_path, start, stop, step):
  # Frame i has its block at a place of its own.
  mask = np.zeros((10, 16, 24), bool)
  for i in range(10):
    mask[i, 4:12, 2 * i : 2 * i + 4] = True
  write_mask_frames(tmp_path / 'm', mask)
  vio.write_video(tmp_path / 'm.mp4', as_video(mask), fps=10)
  expected = mask[start:stop:step]
  for name in ('m', 'm.mp4'):
    out = vio.read_mask(
        tmp_path / name, size=expected.shape, start=start, stop=stop, step=step
    )
    np.testing.assert_array_equal(out, expected, err_msg=name)


def test_one_frame_mask_video_ignores_range(tmp_path):
  mask = block_masks(1)
  write_mask_frames(tmp_path / 'm', mask)
  out = vio.read_mask(tmp_path / 'm', size=(4, 24, 32), start=3, step=2)
  np.testing.assert_array_equal(out, np.broadcast_to(mask, (4, 24, 32)))


# ----------------------------------------------------------------------------
# read_mask: resizing never shrinks a hole.


@pytest.mark.parametrize(
    'source, target',
    [((24, 32), (12, 16)), ((24, 32), (9, 12)), ((24, 32), (7, 9)),
     ((23, 31), (10, 13)), ((24, 32), (24, 16)), ((5, 7), (12, 17)),
     ((9, 12), (24, 32)), ((24, 32), (1, 1))],
)
def test_resize_any_matches_brute_force(source, target):
  rng = np.random.default_rng(sum(source) * 100 + sum(target))
  for density in (0.02, 0.1, 0.5):
    mask = rng.random((2, *source)) < density
    np.testing.assert_array_equal(
        vio._resize_any(mask, target), brute_force_resize(mask, target)
    )


@pytest.mark.parametrize('target', [(12, 16), (7, 9), (10, 13), (3, 4)])
def test_one_pixel_hole_never_vanishes(target):
  h, w = 24, 32
  holes = np.zeros((h * w, h, w), bool)
  holes[np.arange(h * w), np.arange(h * w) // w, np.arange(h * w) % w] = True
  out = vio._resize_any(holes, target)
  assert out.reshape(h * w, -1).any(axis=1).all()
  # And the hole is covered where it lies: its centre's target pixel is True.
  for n, (y, x) in enumerate(np.ndindex(h, w)):
    i = int(fractions.Fraction(2 * y + 1, 2 * h) * target[0])
    k = int(fractions.Fraction(2 * x + 1, 2 * w) * target[1])
    assert out[n, i, k]


def test_mask_resized_to_max_size_video(tmp_path):
  # A video read with max_size=10 from 24x32 frames is 10x13 (aspect within
  # 1%); a 7x9 one (max_size=7, width rounded from 9.33) is 3.7% off but is
  # what read_video gives, so it is accepted too.
  mask = block_masks()
  mask[:, 20, 30] = True  # a one-pixel hole
  write_mask_frames(tmp_path / 'm', mask)
  vio.write_video(tmp_path / 'v.mp4', as_video(mask), fps=10)
  for max_size in (10, 7):
    video, _ = vio.read_video(tmp_path / 'v.mp4', max_size=max_size)
    out = vio.read_mask(tmp_path / 'm', size=video.shape[:3])
    assert out.shape == video.shape[:3]
    np.testing.assert_array_equal(
        out, brute_force_resize(mask, video.shape[1:3])
    )
    height, width = video.shape[1:3]
    assert out[:, 20 * height // 24, 30 * width // 32].all()  # the hole


# ----------------------------------------------------------------------------
# read_mask: errors.


def test_mask_aspect_ratio_mismatch(tmp_path):
  write_mask_frames(tmp_path / 'm', block_masks(2))
  with pytest.raises(InputError, match=r"'.*m'.*32x24 pixels.*video is 24x24"):
    vio.read_mask(tmp_path / 'm', size=(2, 24, 24))
  with pytest.raises(InputError, match=r"32x24.*video is 33x24.*video's size"):
    vio.read_mask(tmp_path / 'm', size=(2, 24, 33))


def test_mask_frame_count_mismatch(tmp_path):
  write_mask_frames(tmp_path / 'm', block_masks(4))
  with pytest.raises(InputError, match=r"'.*m'.* 4 frames.*video has 5"):
    vio.read_mask(tmp_path / 'm', size=(5, 24, 32))
  with pytest.raises(InputError, match=r' 2 frames.*1:3:1.*video has 3'):
    vio.read_mask(tmp_path / 'm', size=(3, 24, 32), start=1, stop=3)


def test_mask_read_errors(tmp_path):
  with pytest.raises(InputError, match=r"nope\.png': file not found"):
    vio.read_mask(tmp_path / 'nope.png', size=(2, 8, 8))
  with pytest.raises(InputError, match=r"nope': file not found"):
    vio.read_mask(tmp_path / 'nope', size=(2, 8, 8))
  (tmp_path / 'fake.mp4').write_text('not a video\n' * 50)
  with pytest.raises(InputError, match=r'fake\.mp4.*cannot decode'):
    vio.read_mask(tmp_path / 'fake.mp4', size=(2, 8, 8))
  write_mask_frames(tmp_path / 'm', block_masks(4))
  with pytest.raises(InputError, match=r'selects none of its 4'):
    vio.read_mask(tmp_path / 'm', size=(2, 24, 32), start=9)


# ----------------------------------------------------------------------------
# parse_box.


@pytest.mark.parametrize(
    'text, expected',
    [('0:30,100:180,40:90', ((0, 30), (100, 180), (40, 90))),
     (':10,5:,:', ((None, 10), (5, None), (None, None))),
     (' 3 : 4 , 0:1 ,  7:8 ', ((3, 4), (0, 1), (7, 8))),
     ('5:2,0:0,1:1', ((5, 2), (0, 0), (1, 1)))],  # box_mask checks ranges
)
def test_parse_box(text, expected):
  assert vio.parse_box(text) == expected


@pytest.mark.parametrize(
    'text',
    ['', '0:30', '0:30,100:180', '0:30,100:180,40:90,1:2', '0-30,1:2,3:4',
     '0:30,1:2,3', 'a:b,1:2,3:4', '-5:3,1:2,3:4', '1.5:3,1:2,3:4',
     '0:30;1:2;3:4', '0:3:1,1:2,3:4'],
)
def test_parse_box_bad(text):
  with pytest.raises(
      InputError, match=r'T0:T1,Y0:Y1,X0:X1.*--box 0:30,100:180,40:90'
  ) as info:
    vio.parse_box(text)
  assert f"'{text}'" in str(info.value)


# ----------------------------------------------------------------------------
# box_mask.


def test_box_mask_plain():
  mask = vio.box_mask(((1, 3), (2, 5), (4, 10)), size=(5, 8, 12))
  expected = np.zeros((5, 8, 12), bool)
  expected[1:3, 2:5, 4:10] = True
  np.testing.assert_array_equal(mask, expected)
  full = vio.box_mask(((None, None),) * 3, size=(2, 3, 4))
  assert full.all() and full.shape == (2, 3, 4)


def test_box_mask_frame_indices():
  # Read with start=10, step=3 from a file of 40 frames: 10, 13, ..., 37.
  indices = range(40)[10::3]
  mask = vio.box_mask(
      ((12, 20), (None, None), (None, None)),
      size=(len(indices), 4, 4),
      frame_indices=indices,
  )
  np.testing.assert_array_equal(mask.any(axis=(1, 2)), [
      i in (13, 16, 19) for i in indices
  ])
  assert mask[1].all()
  # Reversed reading keeps the file coordinates.
  indices = range(10)[::-1]
  mask = vio.box_mask(((0, 2), (0, 1), (0, 1)), size=(10, 2, 2),
                      frame_indices=indices)
  np.testing.assert_array_equal(mask[:, 0, 0], [False] * 8 + [True] * 2)


def test_box_mask_source_hw_rounds_outward():
  # 576x768 read as 144x192 (factor 4): rows 101:179 cover 25.25..44.75.
  mask = vio.box_mask(
      ((None, None), (101, 179), (40, 90)),
      size=(1, 144, 192),
      source_hw=(576, 768),
  )
  expected = np.zeros((1, 144, 192), bool)
  expected[:, 25:45, 10:23] = True  # columns 10.0 .. 22.5
  np.testing.assert_array_equal(mask, expected)
  # Non-integer factor: 240x320 read as 100x133; rows 7:8 are 2.92..3.33.
  mask = vio.box_mask(
      ((None, None), (7, 8), (0, 3)), size=(1, 100, 133), source_hw=(240, 320)
  )
  rows, cols = np.nonzero(mask[0])
  assert set(rows) == {2, 3} and set(cols) == {0, 1}  # cols 0..1.25
  # Against the overlap rule, for every box of a small frame.
  for y0 in range(9):
    for y1 in range(y0 + 1, 10):
      mask = vio.box_mask(
          ((None, None), (y0, y1), (None, None)), size=(1, 4, 2),
          source_hw=(9, 2),
      )
      i = np.arange(4)
      expected = ((i + 1) * 9 > y0 * 4) & (i * 9 < y1 * 4)
      np.testing.assert_array_equal(mask[0, :, 0], expected)


def test_box_mask_clips():
  mask = vio.box_mask(((3, 100), (6, 50), (None, 2)), size=(5, 8, 12))
  expected = np.zeros((5, 8, 12), bool)
  expected[3:, 6:, :2] = True
  np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(
    'box, pattern',
    [(((3, 3), (0, 1), (0, 1)), r"'3:3,0:1,0:1'.*frames range 3:3 is empty"),
     (((0, 1), (5, 2), (0, 1)), r'rows range 5:2 is reversed.*--box'),
     (((0, 1), (0, 1), (-2, 1)), r'columns range -2:1.*negative'),
     (((0, 1), (0, 1)), r'expected T0:T1'),
     (((0, 1.5), (0, 1), (0, 1)), r'not an integer')],
)
def test_box_mask_bad_boxes(box, pattern):
  with pytest.raises(InputError, match=pattern):
    vio.box_mask(box, size=(5, 8, 12))


def test_box_mask_outside():
  indices = range(795)[100:400:2]
  kwargs = dict(size=(len(indices), 144, 192), frame_indices=indices,
                source_hw=(576, 768))
  message = (r"'900:950,0:10,0:10'.*outside.*frames 100\.\.398 \(read in"
             r' steps of 2\), rows 0\.\.575, columns 0\.\.767')
  with pytest.raises(InputError, match=message):
    vio.box_mask(((900, 950), (0, 10), (0, 10)), **kwargs)
  with pytest.raises(InputError, match=r'rows 0\.\.575'):
    vio.box_mask(((None, None), (576, 600), (None, None)), **kwargs)
  with pytest.raises(InputError, match=r'columns 0\.\.767'):
    vio.box_mask(((None, None), (None, None), (800, None)), **kwargs)
  with pytest.raises(InputError, match=r'101:102.*outside'):  # between frames
    vio.box_mask(((101, 102), (None, None), (None, None)), **kwargs)
  assert vio.box_mask(((398, 999), (575, 999), (767, 999)), **kwargs).sum() == 1


# ----------------------------------------------------------------------------
# video_info.


def test_video_info(tmp_path):
  vio.write_video(tmp_path / 'v.mp4', np.zeros((5, 24, 32, 3)), fps=12)
  assert vio.video_info(tmp_path / 'v.mp4') == (5, 24, 32, 12.0)
  assert isinstance(vio.video_info(tmp_path / 'v.mp4'), vio.VideoInfo)
  vio.write_video(tmp_path / 'two.mp4', np.zeros((2, 24, 32, 3)), fps=8)
  assert vio.video_info(tmp_path / 'two.mp4') == (2, 24, 32, 8.0)
  write_mask_frames(tmp_path / 'f', np.zeros((3, 6, 10), bool))
  info = vio.video_info(tmp_path / 'f')
  assert info == (3, 6, 10, vio.FOLDER_FPS)
  assert info.num_frames == 3 and info.height == 6 and info.width == 10
  assert vio.video_info(tmp_path / 'f' / '2.png') == (1, 6, 10, vio.IMAGE_FPS)
  # The same as what read_video reads.
  video, fps = vio.read_video(tmp_path / 'v.mp4')
  assert vio.video_info(tmp_path / 'v.mp4') == (*video.shape[:3], fps)


def test_video_info_errors(tmp_path):
  with pytest.raises(InputError, match=r"nope\.mp4': file not found"):
    vio.video_info(tmp_path / 'nope.mp4')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(InputError, match=r"'.*empty'.*no frames"):
    vio.video_info(tmp_path / 'empty')
  (tmp_path / 'clip.xyz').write_bytes(b'\0' * 10)
  with pytest.raises(InputError, match=r"clip\.xyz.*'\.xyz'.*\.mp4"):
    vio.video_info(tmp_path / 'clip.xyz')
  (tmp_path / 'fake.mp4').write_text('this is not a video\n' * 50)
  with pytest.raises(InputError, match=r'fake\.mp4.*cannot decode'):
    vio.video_info(tmp_path / 'fake.mp4')
  (tmp_path / 'bad.png').write_text('hello')
  with pytest.raises(InputError, match=r'bad\.png.*not a valid image'):
    vio.video_info(tmp_path / 'bad.png')
