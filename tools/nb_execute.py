"""Execute one notebook in a fresh kernel with a whole-notebook time limit.

Used by tools/nb_run.ts (run with Debian's /usr/bin/python3, which has nbclient):

    nb_execute.py IN.ipynb OUT.ipynb --kernel deno --limit 120 --cwd notebooks

Cells run in order; the first failing cell stops the run. The executed
notebook (with the outputs so far, the failing cell's error included) is
always written to OUT. The last line on stdout is a JSON status:
{"ok", "seconds", "cell", "reason", "ename", "evalue"}.
"""

import argparse
import json
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import run_sync


# Deno's kernel sometimes publishes a cell's execute_result just after its
# "idle" status, which nbclient treats as the end of the cell and so drops the
# output. After each cell, collect what arrives within a short grace period.
GRACE_S = 0.05


def drain(client: NotebookClient, cell, index: int) -> None:
    """Processes iopub messages that arrived after the cell went idle."""
    while True:
        try:
            msg = run_sync(client.kc.get_iopub_msg)(timeout=GRACE_S)
        except Exception:  # queue.Empty: nothing more came
            return
        if msg["msg_type"] in ("status", "execute_input"):
            continue
        try:
            client.process_message(msg, cell, index)
        except Exception:
            pass


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--kernel", default="deno")
    ap.add_argument("--limit", type=float, default=120.0, help="seconds for the whole notebook")
    ap.add_argument("--cwd", default=".")
    a = ap.parse_args()

    nb = nbformat.read(a.input, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=a.kernel,
        timeout=max(1, int(a.limit)),
        allow_errors=False,
        record_timing=True,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": a.cwd}},
    )
    status = {"ok": True, "seconds": 0.0, "cell": None, "reason": None, "ename": None, "evalue": None}
    start = time.monotonic()
    index = None
    try:
        with client.setup_kernel():
            info = client.wait_for_reply(client.kc.kernel_info())
            if info and "language_info" in info.get("content", {}):
                nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = a.limit - (time.monotonic() - start)
                if remaining <= 0:
                    raise CellTimeoutError(f"notebook time limit of {a.limit:g} s reached")
                client.timeout = max(1, int(remaining))
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError:
                    drain(client, cell, index)
                    raise
                drain(client, cell, index)
    except CellTimeoutError as e:
        status.update(ok=False, cell=index, reason="timeout", ename="Timeout",
                      evalue=f"notebook time limit of {a.limit:g} s reached in cell {index}: {e}".split("\n")[0])
    except CellExecutionError as e:
        status.update(ok=False, cell=index, reason="error", ename=e.ename, evalue=e.evalue)
    except DeadKernelError as e:
        status.update(ok=False, cell=index, reason="dead-kernel", ename="DeadKernelError", evalue=str(e))
    except Exception as e:  # kernel failed to start, protocol errors, …
        status.update(ok=False, cell=index, reason="runner", ename=type(e).__name__, evalue=str(e))
    status["seconds"] = round(time.monotonic() - start, 3)
    nbformat.write(nb, a.output)
    print(json.dumps(status))
    sys.stdout.flush()
    return 0 if status["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
