"""Tests for vgpnn_jax.video_files: lazy decoding, seeking, metadata.

A frame range read by seeking to a keyframe near its start must give the
frames of a decode from the first frame; `video_info` must not decode the
file. The clips are made here by the ffmpeg of imageio-ffmpeg (short GOPs and
B-frames, so that a seek lands on a keyframe before the start).
"""

import pathlib
import subprocess

import numpy as np
import pytest

from vgpnn_jax import io as vio
from vgpnn_jax import video_files
from vgpnn_jax.errors import InputError

DATA = pathlib.Path('/work/shared/data')
_FRAMES = 40  # frames of each clip: 4 s at 10 fps
# Codec options per container: a keyframe every 7-10 frames.
_ENCODINGS = {
    'mp4': ['-c:v', 'libx264', '-g', '10', '-bf', '2', '-pix_fmt', 'yuv420p'],
    'mkv': ['-c:v', 'libx264', '-g', '8', '-pix_fmt', 'yuv420p'],
    'webm': ['-c:v', 'libvpx-vp9', '-g', '7'],
    'mov': ['-c:v', 'mpeg4', '-g', '9'],
    'avi': ['-c:v', 'mpeg4', '-g', '7'],
    'gif': [],
}


def _ffmpeg(*args):
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
  subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-v', 'error', '-y',
                  *map(str, args)], capture_output=True, check=True)


@pytest.fixture(name='clips', scope='module')
def _clips(tmp_path_factory):
  root = tmp_path_factory.mktemp('lazy')
  source = ['-f', 'lavfi', '-i',
            f'testsrc2=size=64x48:rate=10:duration={_FRAMES // 10}']
  for ext, codec in _ENCODINGS.items():
    _ffmpeg(*source, *codec, root / f'clip.{ext}')
  return root


def _every_frame(path):
  """Every frame, decoded from the first one on (no seek)."""
  with video_files.VideoFile(path) as video:
    return np.stack(list(video.frames(None, None, 1)))


@pytest.mark.parametrize('ext', sorted(_ENCODINGS))
def test_ranges_equal_a_decode_from_the_start(clips, ext):
  path = clips / f'clip.{ext}'
  every = _every_frame(path)
  assert every.shape == (_FRAMES, 48, 64, 3) and every.dtype == np.uint8
  for start, stop, step in [(1, None, 1), (17, 23, 1), (33, None, 1),
                            (39, None, 1), (5, 38, 4), (21, None, 3),
                            (-5, None, 1), (None, None, -3), (30, 2, -7)]:
    with video_files.VideoFile(path) as video:
      read = list(video.frames(start, stop, step))
    expected = every[start:stop:step]
    assert len(read) == len(expected), (start, stop, step)
    np.testing.assert_array_equal(np.stack(read), expected,
                                  err_msg=f'{ext} {start}:{stop}:{step}')


def test_a_start_deep_in_the_file_decodes_from_a_keyframe(clips):
  path = clips / 'clip.mp4'
  with video_files.VideoFile(path) as video:
    read = list(video.frames(35, 37, 1))
    assert not video.reached_end  # stopped at `stop`
  # Seeking skipped frames: the first one decoded is the keyframe at 30.
  decoded = []
  with video_files.VideoFile(path) as video:
    for i, _ in video._indexed(35):  # pylint: disable=protected-access
      decoded.append(i)
  assert decoded[0] == 30 and decoded[-1] == _FRAMES - 1
  np.testing.assert_array_equal(np.stack(read), _every_frame(path)[35:37])


def test_read_video_with_a_range_equals_a_slice(clips):
  video, fps = vio.read_video(clips / 'clip.mkv', start=26, stop=40, step=2)
  every, _ = vio.read_video(clips / 'clip.mkv')
  np.testing.assert_array_equal(video, every[26:40:2])
  assert fps == 5.0


@pytest.mark.parametrize('ext', sorted(_ENCODINGS))
def test_video_info_decodes_one_frame(clips, ext, monkeypatch):
  decoded = []
  upright = video_files._upright  # pylint: disable=protected-access

  def counting(frame):
    decoded.append(frame)
    return upright(frame)

  monkeypatch.setattr(video_files, '_upright', counting)
  assert vio.video_info(clips / f'clip.{ext}') == (_FRAMES, 48, 64, 10.0)
  assert len(decoded) == 1


def test_rotated_file_is_read_upright(clips, tmp_path):
  path = tmp_path / 'turned.mp4'
  # The same frames, with a display matrix saying "turn 90 degrees".
  _ffmpeg('-display_rotation', '90', '-i', clips / 'clip.mp4', '-c', 'copy',
          path)
  turned = _every_frame(path)
  np.testing.assert_array_equal(
      turned, np.rot90(_every_frame(clips / 'clip.mp4'), 1, axes=(1, 2)))
  assert vio.video_info(path) == (_FRAMES, 64, 48, 10.0)


def test_avi_drop_frames_are_not_counted():
  """tree.avi's header counts 444 frames, 376 of them empty "drop" packets
  that ffmpeg (and so mediapy) skips: 68 frames are read."""
  path = DATA / 'tree.avi'
  if not path.exists():
    pytest.skip('no shared sample data')
  assert vio.video_info(path) == (68, 240, 320, 15.0)
  video, _ = vio.read_video(path, start=60)
  assert video.shape == (8, 240, 320, 3)


def test_frame_rate_rounded_as_ffmpeg_prints_it():
  round_fps = video_files._round_fps  # pylint: disable=protected-access
  assert round_fps(30000 / 1001) == 29.97
  assert round_fps(1e6 / 66667) == 15.0
  assert round_fps(12.5) == 12.5 and round_fps(0.001) == 0.001


def test_errors_give_ffmpegs_reason(clips, tmp_path):
  data = (clips / 'clip.mp4').read_bytes()
  (tmp_path / 'cut.mp4').write_bytes(data[:len(data) // 2])
  with pytest.raises(InputError, match=r"cut\.mp4.*cannot decode.*truncated"
                     r" or not a video \(moov atom not found\)\. Check"):
    vio.video_info(tmp_path / 'cut.mp4')
  with pytest.raises(InputError, match=r"clip\.mp4.*selects none of its 40"):
    vio.read_video(clips / 'clip.mp4', start=45)
  with pytest.raises(InputError, match=r"clip\.webm.*selects none of its 40"):
    vio.read_video(clips / 'clip.webm', start=20, stop=10)


def test_bundled_sample_equals_mediapy():
  """The frames and rate mediapy's reader (the ffmpeg command line) gave."""
  path = pathlib.Path(vio.__file__).parent / 'data' / 'bunny.mp4'
  mediapy = vio._mediapy(path)  # pylint: disable=protected-access
  with mediapy.VideoReader(path) as reader:
    expected, fps = np.stack(list(reader)), reader.fps
  np.testing.assert_array_equal(_every_frame(path), expected)
  video, read_fps = vio.read_video(path, start=4, stop=11)
  np.testing.assert_array_equal(video, expected[4:11] * np.float32(1 / 255))
  assert read_fps == fps == 12.5


@pytest.mark.parametrize('ext', sorted(_ENCODINGS))
def test_read_size_is_the_shape_read_video_returns(clips, tmp_path, ext):
  path = clips / f'clip.{ext}'
  # Sizes without a resize (each resized shape compiles a resize).
  for frames in (dict(), dict(start=5, stop=38, step=4), dict(start=-3),
                 dict(step=-2), dict(start=30, stop=10, step=-7)):
    video, fps = vio.read_video(path, max_size=48, **frames)
    assert vio.read_size(path, max_size=48, **frames) == (video.shape[:3],
                                                          fps), frames
  video, fps = vio.read_video(path, max_size=20, start=-3)
  assert vio.read_size(path, max_size=20, start=-3) == (video.shape[:3], fps)
  with pytest.raises(InputError, match='selects none of its 40 frames'):
    vio.read_size(path, start=40)
  with pytest.raises(InputError, match='step=0'):
    vio.read_size(path, step=0)
  with pytest.raises(InputError, match='file not found'):
    vio.read_size(tmp_path / 'missing.mp4')


def test_read_size_of_frame_folders_and_images(tmp_path):
  video = np.random.default_rng(0).random((5, 30, 41, 3)).astype(np.float32)
  vio.write_frames(tmp_path / 'frames', video, fps=7.0)
  folder = tmp_path / 'frames'
  image = sorted(folder.iterdir())[0]
  for path, frames in ((folder, dict(start=1, step=2)), (folder, dict()),
                       (image, dict())):
    for max_size in (None, 12):
      read, fps = vio.read_video(path, max_size=max_size, **frames)
      assert vio.read_size(path, max_size=max_size, **frames) == (
          read.shape[:3], fps), (path, frames, max_size)
