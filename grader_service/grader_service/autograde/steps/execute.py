"""Run the notebook with nbclient; errors are recorded in outputs, never raised."""

import subprocess

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from .base import Step

KERNEL_DIED = "the kernel died while running the notebook (memory limit reached?)"


class ExecuteNotebook(Step):
    """Execute ``job.nb`` in ``job.workdir`` (allow errors, per-cell timeout).

    The kernel's own stdout/stderr go to /dev/null so student code cannot write into
    the autograder's JSON output. If the kernel dies (e.g. memory limit), the cell that
    was running gets an error output and ``job.problem`` is set; later cells never ran.
    """

    def __call__(self, job):
        running = {}
        client = NotebookClient(
            job.nb, timeout=job.cell_timeout, kernel_name=job.kernel_name, allow_errors=True,
            interrupt_on_timeout=True, record_timing=False,
            resources={"metadata": {"path": job.workdir}},
            on_cell_execute=lambda cell, cell_index: running.update(index=cell_index),
            on_cell_executed=lambda cell, cell_index, execute_reply: running.clear())
        try:
            client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
        except DeadKernelError:
            job.problem = KERNEL_DIED
            if "index" in running:
                cell = job.nb.cells[running["index"]]
                cell.outputs.append({"output_type": "error", "ename": "DeadKernelError",
                                     "evalue": KERNEL_DIED, "traceback": []})
