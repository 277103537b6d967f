"""The package as pip builds it: a wheel with the typing marker, the bundled
sample and the `vgpnn` command, and that command exits as `python -m
vgpnn_jax` does."""

import configparser
import email.parser
import importlib.metadata
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

import vgpnn_jax

_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _setuptools_builds_wheels() -> bool:
  """Whether the installed setuptools builds a wheel by itself (>= 70.1)."""
  try:
    version = importlib.metadata.version('setuptools')
  except importlib.metadata.PackageNotFoundError:
    return False
  major, minor = (int(part) for part in version.split('.')[:2])
  return (major, minor) >= (70, 1)


@pytest.fixture(name='wheel', scope='module')
def _wheel(tmp_path_factory):
  """The wheel pip builds from this tree, offline, as a ZipFile."""
  if not _setuptools_builds_wheels():
    pytest.skip('needs setuptools >= 70.1 (pip install -r requirements.txt)')
  # A copy of what the build reads: building in the tree would leave build/
  # and *.egg-info there, and a stale build/ could leak into the wheel.
  source = tmp_path_factory.mktemp('source')
  for name in ('pyproject.toml', 'README.md'):
    shutil.copy(_ROOT / name, source)
  shutil.copytree(_ROOT / 'vgpnn_jax', source / 'vgpnn_jax',
                  ignore=shutil.ignore_patterns('__pycache__'))
  out = tmp_path_factory.mktemp('wheel')
  subprocess.run(
      [sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
       '--no-build-isolation', '--no-index', '-w', str(out), str(source)],
      check=True, timeout=120,
      env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1'))
  (path,) = out.glob('vgpnn_jax-*.whl')
  with zipfile.ZipFile(path) as wheel:
    yield wheel


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
  (path,) = [n for n in wheel.namelist()
             if n.endswith('.dist-info/' + name)]
  return wheel.read(path).decode()


def test_wheel_has_the_typing_marker_and_the_sample(wheel):
  names = set(wheel.namelist())
  assert 'vgpnn_jax/py.typed' in names
  assert 'vgpnn_jax/data/bunny.mp4' in names
  assert (wheel.read('vgpnn_jax/data/bunny.mp4')
          == (_ROOT / 'vgpnn_jax/data/bunny.mp4').read_bytes())
  assert 'vgpnn_jax/cli.py' in names
  # The package only: not the tests or the experiments.
  assert not [n for n in names if n.startswith(('tests/', 'experiments/'))]


def test_wheel_has_the_command(wheel):
  entry_points = configparser.ConfigParser()
  entry_points.read_string(_dist_info(wheel, 'entry_points.txt'))
  assert dict(entry_points['console_scripts']) == {
      'vgpnn': 'vgpnn_jax.cli:main'}


def test_wheel_version_is_the_package_version(wheel):
  metadata = email.parser.Parser().parsestr(_dist_info(wheel, 'METADATA'))
  assert metadata['Name'] == 'vgpnn-jax'
  assert metadata['Version'] == vgpnn_jax.__version__
  requires = {re.split(r'[<>=!~;\[ ]', r)[0]
              for r in metadata.get_all('Requires-Dist')}
  assert {'jax', 'jaxlib', 'numpy', 'mediapy', 'av', 'pillow', 'imageio-ffmpeg',
          'flatbuffers', 'pytest'} <= requires, requires


def _console_script() -> str:
  """What pip's `vgpnn` script runs, from pyproject.toml's entry point."""
  with open(_ROOT / 'pyproject.toml', 'rb') as f:
    target = tomllib.load(f)['project']['scripts']['vgpnn']
  module, function = target.split(':')
  # The body of the script pip writes for a console entry point.
  return (f'import sys; from {module} import {function}; '
          f'sys.exit({function}())')


@pytest.mark.parametrize('args,status', [
    (['--help'], 0),
    (['generate', '--help'], 0),
    (['generate', 'no_such_video.mp4'], 2),  # bad input: one error line
    (['generate', '--num', 'x'], 2),  # a bad option: argparse's usage
])
def test_command_exits_as_python_m(tmp_path, args, status):
  env = dict(os.environ, PYTHONPATH=str(_ROOT), JAX_PLATFORMS='cpu',
             VGPNN_JAX_CACHE=str(tmp_path / 'cache'))
  runs = [subprocess.run(command + args, cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
          for command in ([sys.executable, '-m', 'vgpnn_jax'],
                          [sys.executable, '-c', _console_script()])]
  assert [r.returncode for r in runs] == [status, status], runs
  assert runs[0].stdout == runs[1].stdout
  assert runs[0].stderr == runs[1].stderr
