"""experiments/vgpnn_colab.ipynb runs top to bottom in its TINY mode, in a
kernel of this interpreter, and shows what each cell promises."""

import os
import pathlib
import sys
import time

from ipykernel import kernelspec
import nbclient
import nbformat
import pytest

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_NOTEBOOK = _ROOT / 'experiments' / 'vgpnn_colab.ipynb'
_KERNEL = 'vgpnn-jax-test'
# Seconds per cell: a cold compilation of one application takes a few.
_CELL_TIMEOUT = 120
# Appended to the notebook in memory: what the cells computed.
_CHECKS = """
assert TINY and NUM == 2, (TINY, NUM)
assert variations.shape == (NUM, T, H, W, 3), variations.shape
assert narrow.shape == (T, H, round(0.6 * W), 3), narrow.shape
for out in (filled, healed, rendered, *drawn.values()):
  assert out.shape == video.shape, out.shape
assert images.shape == (NUM, 1, H, W, 3), images.shape
import sys
print('checks passed')
print(sys.executable)
print(os.getcwd())
"""


def _html(cell) -> str:
  return ''.join(output.get('data', {}).get('text/html', '')
                 for output in cell.get('outputs', ()))


def test_the_saved_notebook_is_clean():
  notebook = nbformat.read(_NOTEBOOK, as_version=4)
  nbformat.validate(notebook)
  assert notebook.nbformat == 4
  for cell in notebook.cells:
    if cell.cell_type == 'code':
      assert cell.outputs == [] and cell.execution_count is None, cell.id


@pytest.fixture(name='executed', scope='module')
def _executed(tmp_path_factory):
  """The notebook after a TINY run, and the seconds it took."""
  tmp = tmp_path_factory.mktemp('notebook')
  # A kernelspec whose argv is this interpreter, in a folder of its own: a
  # `python3` spec elsewhere on the machine could name another Python.
  kernelspec.install(kernel_name=_KERNEL, prefix=str(tmp))
  patch = pytest.MonkeyPatch()
  patch.setenv('JUPYTER_PATH', str(tmp / 'share' / 'jupyter'))
  patch.setenv('VGPNN_NOTEBOOK_TINY', '1')
  patch.setenv('VGPNN_JAX_CACHE', str(tmp / 'cache'))
  patch.setenv('PYTHONPATH', os.pathsep.join(
      [str(_ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
  patch.setenv('MPLBACKEND', 'agg')
  notebook = nbformat.read(_NOTEBOOK, as_version=4)
  notebook.cells.append(nbformat.v4.new_code_cell(_CHECKS, id='checks'))
  client = nbclient.NotebookClient(
      notebook, kernel_name=_KERNEL, timeout=_CELL_TIMEOUT,
      resources={'metadata': {'path': str(_ROOT)}})
  start = time.perf_counter()
  try:
    client.execute()
  finally:
    patch.undo()
  return notebook, time.perf_counter() - start


def test_every_cell_runs(executed):
  notebook, seconds = executed
  for cell in notebook.cells:
    if cell.cell_type == 'code':
      errors = [o for o in cell.outputs if o.output_type == 'error']
      assert not errors, (cell.id, errors)
  assert 'checks passed' in ''.join(
      o.get('text', '') for o in notebook.cells[-1].outputs)
  print(f'notebook ran in {seconds:.1f} s')


def test_the_kernel_is_this_interpreter_at_the_root(executed):
  notebook, _ = executed
  lines = ''.join(o.get('text', '') for o in notebook.cells[-1].outputs)
  _, executable, cwd = lines.splitlines()
  assert pathlib.Path(executable) == pathlib.Path(sys.executable)
  assert pathlib.Path(cwd).resolve() == _ROOT


def test_the_cells_show_their_videos(executed):
  notebook, _ = executed
  cells = {cell.id: cell for cell in notebook.cells}
  # The input, then one <video> per variation in one table.
  assert _html(cells['load']).count('<video') == 1
  assert _html(cells['variations']).count('<video') == 2
  assert _html(cells['retarget']).count('<video') == 2
  assert _html(cells['inpaint']).count('<video') == 2
  assert _html(cells['edit']).count('<video') == 2
  assert _html(cells['analogy']).count('<video') == 3
  assert _html(cells['sketch']).count('<video') == 4
  assert _html(cells['image']).count('<img') == 3
  # The progress of the variations: one line per level.
  progress = ''.join(o.get('text', '') for o in cells['variations'].outputs)
  assert 'level  1 of' in progress
