"""Tests for vgpnn_jax.io: reading, writing, grids and their error messages."""

import os
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from vgpnn_jax import io as vio
from vgpnn_jax.errors import InputError

DATA = pathlib.Path('/work/shared/data')

# Ten well separated colours: frame i of a "coloured" video is colour i.
COLOURS = np.array(
    [
        [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1],
        [0, 1, 1], [1, 1, 1], [0, 0, 0], [1, 0.5, 0], [0.5, 0, 1],
        [0.5, 1, 0.5], [0, 0.5, 0.5],
    ],
    np.float32,
)


def smooth_video(t=5, h=24, w=32):
  """Smooth gradients plus a moving red block, [t, h, w, 3] in [0, 1]."""
  y, x = np.mgrid[0:h, 0:w].astype(np.float32)
  y, x = y / h, x / w
  video = np.zeros((t, h, w, 3), np.float32)
  for i in range(t):
    video[i, ..., 0] = x
    video[i, ..., 1] = y
    video[i, ..., 2] = (x + y + i / t) / 3
    video[i, 4:10, 4 + 2 * i : 10 + 2 * i] = [1, 0, 0]
  return video


def coloured_video(t, h=16, w=16):
  return np.broadcast_to(COLOURS[:t, None, None, :], (t, h, w, 3)).copy()


def frame_ids(video):
  """The index in COLOURS nearest to each frame's mean colour."""
  means = video.mean(axis=(1, 2))
  return np.argmin(((means[:, None] - COLOURS[None]) ** 2).sum(-1), axis=1)


def write_frames(folder, video, pattern='{}.png', first=1):
  folder.mkdir(parents=True, exist_ok=True)
  for i, frame in enumerate(video):
    image = Image.fromarray(np.rint(frame * 255).astype(np.uint8))
    image.save(folder / pattern.format(i + first))


# ----------------------------------------------------------------------------
# Round trips.


def test_mp4_round_trip(tmp_path):
  video = smooth_video()
  path = tmp_path / 'v.mp4'
  vio.write_video(path, video, fps=12)
  out, fps = vio.read_video(path)
  assert out.shape == video.shape
  assert out.dtype == np.float32
  assert fps == 12.0
  assert 0.0 <= out.min() and out.max() <= 1.0
  # H.264 is lossy; measured 0.014 mean abs error on this content.
  assert np.abs(out - video).mean() < 0.03
  assert os.listdir(tmp_path) == ['v.mp4']


def test_mp4_odd_size_is_padded_to_even(tmp_path):
  video = smooth_video(4, 23, 31)
  path = tmp_path / 'odd.mp4'
  vio.write_video(path, video, fps=10)
  out, _ = vio.read_video(path)
  assert out.shape == (4, 24, 32, 3)
  assert np.abs(out[:, :23, :31] - video).mean() < 0.03
  # The padding repeats the last row / column.
  assert np.abs(out[:, 23, :31] - video[:, 22]).mean() < 0.05
  assert np.abs(out[:, :23, 31] - video[:, :, 30]).mean() < 0.05


def test_gif_round_trip_loops(tmp_path):
  video = smooth_video(6, 24, 32)
  path = tmp_path / 'v.gif'
  vio.write_video(path, video, fps=10)
  out, fps = vio.read_video(path)
  assert out.shape == video.shape
  assert fps == 10.0
  # 256 colours with dithering: measured 0.034 mean abs error.
  assert np.abs(out - video).mean() < 0.06
  with Image.open(path) as image:
    assert image.n_frames == 6
    assert image.info.get('loop') == 0  # loop forever


def test_png_round_trip_exact(tmp_path):
  video = smooth_video(1, 24, 32)
  path = tmp_path / 'still.png'
  vio.write_video(path, video, fps=1)
  out, fps = vio.read_video(path)
  assert out.shape == (1, 24, 32, 3)
  assert fps == 1.0
  np.testing.assert_allclose(out, video, atol=0.5 / 255 + 1e-6)


def test_write_accepts_uint8_jax_and_grey(tmp_path):
  video = smooth_video(1, 8, 10)
  u8 = np.rint(video * 255).astype(np.uint8)
  vio.write_video(tmp_path / 'a.png', u8, fps=1)
  vio.write_video(tmp_path / 'b.png', jnp.asarray(video), fps=1)
  vio.write_video(tmp_path / 'c.png', video[..., :1], fps=1)
  a, _ = vio.read_video(tmp_path / 'a.png')
  b, _ = vio.read_video(tmp_path / 'b.png')
  c, _ = vio.read_video(tmp_path / 'c.png')
  np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(a, video, atol=0.5 / 255 + 1e-6)
  np.testing.assert_allclose(c, np.repeat(video[..., :1], 3, -1), atol=0.003)


def test_write_clips_out_of_range_values(tmp_path):
  video = np.full((1, 4, 4, 3), 2.0, np.float32)
  video[0, 0, 0] = -1.0
  vio.write_video(tmp_path / 'x.png', video, fps=1)
  out, _ = vio.read_video(tmp_path / 'x.png')
  assert out[0, 0, 0].tolist() == [0.0, 0.0, 0.0]
  assert out[0, 1, 1].tolist() == [1.0, 1.0, 1.0]


def test_write_creates_missing_folders(tmp_path):
  path = tmp_path / 'a' / 'b' / 'v.gif'
  vio.write_video(path, smooth_video(2, 8, 8), fps=5)
  assert path.is_file()


# ----------------------------------------------------------------------------
# Folders, images, frame ranges, max_size.


def test_folder_sorted_numerically(tmp_path):
  folder = tmp_path / 'frames'
  write_frames(folder, coloured_video(12))  # 1.png .. 12.png
  (folder / 'notes.txt').write_text('not a frame')
  (folder / 'sub').mkdir()
  video, fps = vio.read_video(folder)
  assert video.shape == (12, 16, 16, 3)
  assert fps == 10.0
  np.testing.assert_array_equal(frame_ids(video), np.arange(12))
  np.testing.assert_allclose(video, coloured_video(12), atol=0.5 / 255 + 1e-6)


def test_folder_with_prefixed_names(tmp_path):
  folder = tmp_path / 'frames'
  write_frames(folder, coloured_video(11), pattern='frame_{}.png', first=0)
  video, _ = vio.read_video(folder)
  np.testing.assert_array_equal(frame_ids(video), np.arange(11))


@pytest.mark.parametrize(
    'start, stop, step',
    [(2, 9, 3), (0, None, 1), (5, None, 1), (0, 4, 1), (-3, None, 1),
     (None, None, -1), (1, 100, 4), (-5, -1, 2)],
)
def test_frame_range_folder(tmp_path, start, stop, step):
  write_frames(tmp_path / 'f', coloured_video(12))
  video, _ = vio.read_video(tmp_path / 'f', start=start, stop=stop, step=step)
  expected = np.arange(12)[start:stop:step]
  np.testing.assert_array_equal(frame_ids(video), expected)


@pytest.mark.parametrize(
    'start, stop, step',
    [(2, 9, 3), (0, 3, 1), (-4, None, 1), (9, None, -2), (None, None, -1)],
)
def test_frame_range_video_file(tmp_path, start, stop, step):
  path = tmp_path / 'c.mp4'
  vio.write_video(path, coloured_video(10), fps=10)
  video, _ = vio.read_video(path, start=start, stop=stop, step=step)
  expected = np.arange(10)[start:stop:step]
  np.testing.assert_array_equal(frame_ids(video), expected)


def test_single_image_and_modes(tmp_path):
  rgb = (np.arange(6 * 8 * 3).reshape(6, 8, 3) * 1.7).astype(np.uint8)
  Image.fromarray(rgb).save(tmp_path / 'rgb.bmp')
  video, fps = vio.read_video(tmp_path / 'rgb.bmp')
  assert video.shape == (1, 6, 8, 3) and fps == 1.0
  np.testing.assert_allclose(video[0] * 255, rgb, atol=1e-3)

  grey = rgb[..., 0]
  Image.fromarray(grey, mode='L').save(tmp_path / 'grey.png')
  video, _ = vio.read_video(tmp_path / 'grey.png')
  assert video.shape == (1, 6, 8, 3)
  for c in range(3):
    np.testing.assert_allclose(video[0, ..., c] * 255, grey, atol=1e-3)

  rgba = np.concatenate([rgb, np.zeros_like(rgb[..., :1])], axis=-1)
  rgba[0, 0, 3] = 255
  Image.fromarray(rgba, mode='RGBA').save(tmp_path / 'rgba.png')
  video, _ = vio.read_video(tmp_path / 'rgba.png')
  assert video.shape == (1, 6, 8, 3)
  np.testing.assert_allclose(video[0] * 255, rgb, atol=1e-3)  # alpha dropped

  grey16 = grey.astype(np.uint16) * 257
  Image.fromarray(grey16).save(tmp_path / 'grey16.png')
  video, _ = vio.read_video(tmp_path / 'grey16.png')
  np.testing.assert_allclose(video[0, ..., 1] * 255, grey, atol=1e-3)

  Image.fromarray(rgb).save(tmp_path / 'photo.JPG', quality=95)
  video, _ = vio.read_video(tmp_path / 'photo.JPG')
  assert video.shape == (1, 6, 8, 3)
  assert np.abs(video[0] * 255 - rgb).mean() < 8


@pytest.mark.parametrize(
    'size, max_size, expected',
    [((36, 50), 24, (24, 33)), ((36, 51), 24, (24, 34)),
     ((24, 32), 12, (12, 16)), ((24, 32), 24, (24, 32)),
     ((24, 32), 100, (24, 32))],
)
def test_max_size(tmp_path, size, max_size, expected):
  h, w = size
  video = smooth_video(3, h, w)
  write_frames(tmp_path / 'f', video)
  out, _ = vio.read_video(tmp_path / 'f', max_size=max_size)
  assert out.shape == (3, *expected, 3)
  assert out.dtype == np.float32
  assert 0.0 <= out.min() and out.max() <= 1.0
  if expected == size:  # not resized: the values are the file's
    np.testing.assert_allclose(out, video, atol=0.5 / 255 + 1e-6)


def test_max_size_in_chunks_matches_one_resize(tmp_path, monkeypatch):
  from vgpnn_jax.resampling import resize  # pylint: disable=g-import-not-at-top

  video = smooth_video(7, 24, 32)
  write_frames(tmp_path / 'f', video)
  whole, _ = vio.read_video(tmp_path / 'f')
  expected = np.clip(np.asarray(resize(whole, (7, 12, 16))), 0, 1)
  # Three frames per chunk: chunks of 3, 3 and a padded last one.
  monkeypatch.setattr(vio, '_CHUNK_BYTES', 3 * 24 * 32 * 3 * 4)
  out, _ = vio.read_video(tmp_path / 'f', max_size=12)
  assert out.shape == (7, 12, 16, 3)
  np.testing.assert_allclose(out, expected, atol=1e-6)
  # The range is applied before resizing.
  out, _ = vio.read_video(tmp_path / 'f', max_size=12, start=1, step=2)
  np.testing.assert_allclose(out, expected[1::2], atol=1e-6)


# ----------------------------------------------------------------------------
# Reading errors.


def test_missing_path(tmp_path):
  with pytest.raises(InputError, match=r"'.*nope\.mp4': file not found"):
    vio.read_video(tmp_path / 'nope.mp4')


def test_text_file_renamed_mp4(tmp_path):
  path = tmp_path / 'fake.mp4'
  path.write_text('this is not a video\n' * 50)
  with pytest.raises(InputError, match=r"fake\.mp4.*cannot decode"):
    vio.read_video(path)


def test_truncated_mp4(tmp_path):
  path = tmp_path / 'cut.mp4'
  vio.write_video(path, smooth_video(10), fps=10)
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])
  with pytest.raises(InputError, match=r"cut\.mp4.*(truncated|corrupt)"):
    vio.read_video(path)


def test_corrupt_image(tmp_path):
  path = tmp_path / 'broken.png'
  Image.fromarray(np.zeros((32, 32, 3), np.uint8) + 90).save(path)
  path.write_bytes(path.read_bytes()[:60])
  with pytest.raises(InputError, match=r"broken\.png.*not a valid image"):
    vio.read_video(path)
  path = tmp_path / 'text.jpg'
  path.write_text('hello')
  with pytest.raises(InputError, match=r"text\.jpg.*not a valid image"):
    vio.read_video(path)


def test_corrupt_frame_in_folder_names_the_frame(tmp_path):
  write_frames(tmp_path / 'f', coloured_video(3))
  (tmp_path / 'f' / '2.png').write_text('garbage')
  with pytest.raises(InputError, match=r"2\.png.*not a valid image"):
    vio.read_video(tmp_path / 'f')


def test_empty_folder(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(InputError, match=r"'.*empty'.*no frames.*1\.png"):
    vio.read_video(tmp_path / 'empty')
  (tmp_path / 'empty' / 'readme.txt').write_text('x')
  with pytest.raises(InputError, match=r'no frames'):
    vio.read_video(tmp_path / 'empty')


def test_folder_with_mixed_sizes(tmp_path):
  write_frames(tmp_path / 'f', coloured_video(3))
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'f' / '4.png')
  with pytest.raises(InputError, match=r'frame 3 is 8x8.*16x16'):
    vio.read_video(tmp_path / 'f')


def test_range_selecting_nothing(tmp_path):
  write_frames(tmp_path / 'f', coloured_video(5))
  with pytest.raises(InputError, match=r"'.*f'.*selects none of its 5"):
    vio.read_video(tmp_path / 'f', start=5)
  with pytest.raises(InputError, match=r'selects none'):
    vio.read_video(tmp_path / 'f', start=3, stop=2)
  path = tmp_path / 'v.mp4'
  vio.write_video(path, coloured_video(4), fps=10)
  with pytest.raises(InputError, match=r"v\.mp4.*selects none of its 4"):
    vio.read_video(path, start=7)
  with pytest.raises(InputError, match=r"v\.mp4.*selects none of its 4"):
    vio.read_video(path, start=2, stop=1)
  vio.write_video(tmp_path / 'one.png', coloured_video(1), fps=1)
  with pytest.raises(InputError, match=r'one\.png.*selects none of its 1'):
    vio.read_video(tmp_path / 'one.png', start=1)


def test_bad_options(tmp_path):
  write_frames(tmp_path / 'f', coloured_video(2))
  with pytest.raises(InputError, match=r'max_size=0 must be at least 1'):
    vio.read_video(tmp_path / 'f', max_size=0)
  with pytest.raises(InputError, match=r'step=0'):
    vio.read_video(tmp_path / 'f', step=0)
  with pytest.raises(InputError, match=r'start=1.5 is not an integer'):
    vio.read_video(tmp_path / 'f', start=1.5)


def test_unknown_extension(tmp_path):
  path = tmp_path / 'clip.xyz'
  path.write_bytes(b'\0' * 10)
  with pytest.raises(InputError, match=r"clip\.xyz.*'\.xyz'.*\.mp4.*\.png"):
    vio.read_video(path)


# ----------------------------------------------------------------------------
# Writing errors and atomicity.


def test_write_where_parent_is_a_file(tmp_path):
  (tmp_path / 'blocker').write_text('x')
  for name in ('x.mp4', 'x.gif', 'x.png'):
    path = tmp_path / 'blocker' / name
    with pytest.raises(InputError, match=r"cannot write '.*x\.....?'.*--out"):
      vio.write_video(path, smooth_video(1, 8, 8), fps=10)
  assert os.listdir(tmp_path) == ['blocker']


def test_failed_write_keeps_existing_output(tmp_path, monkeypatch):
  import mediapy  # pylint: disable=g-import-not-at-top

  path = tmp_path / 'out.mp4'
  vio.write_video(path, smooth_video(), fps=10)
  before = path.read_bytes()
  calls = []

  def failing_add_image(self, image):
    calls.append(image.shape)
    if len(calls) == 2:
      raise RuntimeError('disk full')
    return original(self, image)

  original = mediapy.VideoWriter.add_image
  monkeypatch.setattr(mediapy.VideoWriter, 'add_image', failing_add_image)
  for name in ('out.mp4', 'new.gif'):
    calls.clear()
    with pytest.raises(InputError, match=rf"{name}.*disk full.*--out"):
      vio.write_video(tmp_path / name, 1 - smooth_video(), fps=10)
  assert path.read_bytes() == before
  assert sorted(os.listdir(tmp_path)) == ['out.mp4']  # no temp, no new.gif


def test_write_bad_arguments(tmp_path):
  video = smooth_video(2, 8, 8)
  with pytest.raises(InputError, match=r"x\.avi.*'\.avi'.*\.mp4, \.gif, \.png"):
    vio.write_video(tmp_path / 'x.avi', video, fps=10)
  with pytest.raises(InputError, match=r'x\.png.*one frame.*has 2'):
    vio.write_video(tmp_path / 'x.png', video, fps=10)
  with pytest.raises(InputError, match=r'shape \(8, 8, 3\)'):
    vio.write_video(tmp_path / 'x.mp4', video[0], fps=10)
  with pytest.raises(InputError, match=r'fps'):
    vio.write_video(tmp_path / 'x.mp4', video, fps=0)
  bad = video.copy()
  bad[0, 0, 0, 0] = np.nan
  with pytest.raises(InputError, match=r'NaN'):
    vio.write_video(tmp_path / 'x.mp4', bad, fps=10)
  (tmp_path / 'dir.mp4').mkdir()
  with pytest.raises(InputError, match=r'is a folder'):
    vio.write_video(tmp_path / 'dir.mp4', video, fps=10)
  assert os.listdir(tmp_path) == ['dir.mp4']


def test_ensure_writable_dir(tmp_path):
  folder = vio.ensure_writable_dir(str(tmp_path / 'a' / 'b'))
  assert isinstance(folder, pathlib.Path)
  assert folder.is_dir() and os.listdir(folder) == []
  assert vio.ensure_writable_dir(folder) == folder  # existing is fine
  (tmp_path / 'file').write_text('x')
  with pytest.raises(InputError, match=r"'.*file'.*not a folder.*--out"):
    vio.ensure_writable_dir(tmp_path / 'file')
  with pytest.raises(InputError, match=r"'.*file/sub'.*--out"):
    vio.ensure_writable_dir(tmp_path / 'file' / 'sub')


@pytest.mark.skipif(
    hasattr(os, 'geteuid') and os.geteuid() == 0,
    reason='root can write to read-only folders',
)
def test_ensure_writable_dir_read_only(tmp_path):
  folder = tmp_path / 'ro'
  folder.mkdir()
  folder.chmod(0o500)
  try:
    with pytest.raises(InputError, match=r"'.*ro'.*permission denied.*--out"):
      vio.ensure_writable_dir(folder)
    with pytest.raises(InputError, match=r"x\.mp4.*permission denied"):
      vio.write_video(folder / 'x.mp4', smooth_video(2, 8, 8), fps=10)
  finally:
    folder.chmod(0o700)


# ----------------------------------------------------------------------------
# Grids.


def test_grid_same_sizes():
  videos = [smooth_video(5, 24, 32)] + [smooth_video(5, 24, 32) * 0.5] * 3
  grid = vio.make_grid(videos, gap=4)
  assert grid.shape == (5, 24, 4 * 32 + 3 * 4, 3)
  assert grid.dtype == np.float32
  np.testing.assert_array_equal(grid[:, :, :32], videos[0])
  np.testing.assert_array_equal(grid[:, :, 36:68], videos[1])
  assert (grid[:, :, 32:36] == 1.0).all()  # white separator


def test_grid_mixed_sizes_and_lengths():
  source = smooth_video(4, 24, 32)
  wide = smooth_video(6, 24, 48)
  small = smooth_video(3, 12, 16)
  grid = vio.make_grid([source, jnp.asarray(wide), small], gap=2)
  assert grid.shape == (6, 24, 32 + 48 + 32 + 2 * 2, 3)
  np.testing.assert_array_equal(grid[:4, :, :32], source)
  np.testing.assert_array_equal(grid[4:, :, :32], source[:2])  # looped
  np.testing.assert_array_equal(grid[:, :, 34:82], wide)
  np.testing.assert_array_equal(  # nearest upscale x2, looped
      grid[:, ::2, 84::2], small[np.arange(6) % 3]
  )


def test_grid_wraps_rows_and_height():
  videos = [smooth_video(2, 24, 32)] * 7
  grid = vio.make_grid(videos, gap=4)
  assert grid.shape == (2, 2 * 24 + 4, 5 * 32 + 4 * 4, 3)
  np.testing.assert_array_equal(grid[:, :24, :32], videos[0])
  np.testing.assert_array_equal(grid[:, 28:, :32], videos[5])
  assert (grid[:, 28:, 2 * 32 + 4 :] == 1.0).all()  # empty end of row 2
  grid = vio.make_grid(videos[:2], height=12, gap=0)
  assert grid.shape == (2, 12, 32, 3)
  u8 = np.rint(smooth_video(2, 24, 32) * 255).astype(np.uint8)
  grid = vio.make_grid([u8, u8[..., :1]], gap=0)
  assert grid.shape == (2, 24, 64, 3)
  np.testing.assert_allclose(grid[:, :, :32], u8 / 255, atol=1e-6)


def test_grid_errors():
  with pytest.raises(InputError, match='no videos'):
    vio.make_grid([])
  with pytest.raises(InputError, match=r'video 1.*shape \(24, 32, 3\)'):
    vio.make_grid([smooth_video(1), smooth_video(1)[0]])
  with pytest.raises(InputError, match='gap >= 0'):
    vio.make_grid([smooth_video(1)], gap=-1)


# ----------------------------------------------------------------------------
# The shared sample data (sizes from /work/shared/data/README.md).


@pytest.mark.skipif(not DATA.is_dir(), reason='no shared sample data')
def test_sample_folder_airballoons():
  video, fps = vio.read_video(DATA / 'airballoons')
  assert video.shape == (20, 144, 256, 3) and fps == 10.0
  first, _ = vio.read_video(DATA / 'airballoons' / '1.png')
  tenth, _ = vio.read_video(DATA / 'airballoons' / '10.png')
  np.testing.assert_array_equal(video[0], first[0])
  np.testing.assert_array_equal(video[9], tenth[0])


@pytest.mark.skipif(not DATA.is_dir(), reason='no shared sample data')
@pytest.mark.parametrize(
    'name, size, fps',
    [('speedway_cc0.mj2', (288, 352), 25.0),
     ('pedestrians_vtest.avi', (576, 768), 10.0),
     ('tree.avi', (240, 320), 15.0)],
)
def test_sample_videos(name, size, fps):
  video, got_fps = vio.read_video(DATA / name, stop=3)
  assert video.shape == (3, *size, 3)
  assert got_fps == fps
  assert video.std() > 0.05  # real content, not a blank decode


def test_default_range_and_reverse(tmp_path):
  write_frames(tmp_path / 'f', coloured_video(4))
  video, _ = vio.read_video(tmp_path / 'f', step=-1)  # start defaults to None
  np.testing.assert_array_equal(frame_ids(video), [3, 2, 1, 0])


# ----------------------------------------------------------------------------
# Issue 22: gaps in a folder's numbering, audio-only files, leaving no folder.


def test_folder_with_a_numbering_gap_warns(tmp_path):
  video = coloured_video(6)
  folder = tmp_path / 'frames'
  folder.mkdir()
  for frame, number in zip(video, (1, 2, 3, 7, 8, 10)):
    Image.fromarray(np.rint(frame * 255).astype(np.uint8)).save(
        folder / f'shot_{number:04d}.png')
  with pytest.warns(UserWarning, match=r'no frame 4-6, 9 between 1 and 10 '
                    r'\(4 missing\)') as caught:
    read, _ = vio.read_video(folder)
  assert caught[0].category.__name__ == 'InputWarning'
  assert list(frame_ids(read)) == list(range(6))  # still read, in order
  # Only the frames read count: 1..3 have no gap.
  import warnings  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    vio.read_video(folder, stop=3)
    write_frames(tmp_path / 'plain', video)  # 1.png ... 6.png
    vio.read_video(tmp_path / 'plain')


def test_audio_only_file_has_no_video_stream(tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'sound.mp4'
  subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-f', 'lavfi', '-i',
                  'sine=frequency=440:duration=1', '-c:a', 'aac', str(path)],
                 capture_output=True, check=True)
  with pytest.raises(InputError) as raised:
    vio.read_video(path)
  message = str(raised.value)
  assert 'has no video stream (only audio)' in message
  assert 'time=' not in message and '\n' not in message


def test_check_writable_dir_leaves_no_folder(tmp_path):
  target = tmp_path / 'a' / 'b' / 'c'
  assert vio.check_writable_dir(target) == target
  assert os.listdir(tmp_path) == []  # made to try, then removed
  (tmp_path / 'kept').mkdir()
  assert vio.check_writable_dir(tmp_path / 'kept') == tmp_path / 'kept'
  assert os.listdir(tmp_path / 'kept') == []
  (tmp_path / 'file').write_text('x')
  with pytest.raises(InputError, match=r"'.*file/sub'.*--out"):
    vio.check_writable_dir(tmp_path / 'file' / 'sub')
  assert sorted(os.listdir(tmp_path)) == ['file', 'kept']


def test_uint8_conversion_frame_by_frame_is_unchanged():
  rng = np.random.default_rng(0)
  video = rng.uniform(-0.2, 1.2, (3, 5, 7, 3)).astype(np.float32)
  want = np.rint(np.clip(video, 0.0, 1.0) * 255.0).astype(np.uint8)
  np.testing.assert_array_equal(vio._to_uint8(video, 'x'), want)  # pylint: disable=protected-access


def test_contact_sheet_holds_evenly_spaced_frames_of_each_video():
  rng = np.random.default_rng(0)
  first = rng.random((13, 20, 30, 3), np.float32)
  short = rng.random((2, 10, 15, 3), np.float32)  # resized to 20 high
  sheet = vio.contact_sheet([first, (short * 255).astype(np.uint8)],
                           num_frames=4, gap=2)
  assert sheet.shape == (1, 20 + 2 + 20, 4 * 30 + 3 * 2, 3)
  for column, frame in enumerate((0, 4, 8, 12)):  # linspace(0, 12, 4)
    x = column * 32
    np.testing.assert_array_equal(sheet[0, :20, x:x + 30], first[frame])
  # Two frames only, each pixel repeated twice (nearest neighbour).
  row = sheet[0, 22:]
  np.testing.assert_allclose(
      row[:, :30], np.repeat(np.repeat(short[0], 2, 0), 2, 1), atol=1 / 255)
  np.testing.assert_array_equal(row[:, 2 * 32:], 1.0)  # white beyond
  np.testing.assert_array_equal(sheet[0, 20:22], 1.0)  # gap between rows
  with pytest.raises(InputError, match='num_frames'):
    vio.contact_sheet([first], num_frames=0)
  tall = rng.random((3, 300, 40, 3), np.float32)
  assert vio.contact_sheet([tall]).shape[1] == 144  # cells at most 144 high
