"""Two processes on localhost (gloo CPU collectives, a 127.0.0.1 coordinator), two
simulated devices each, run dataset generation, a data-parallel training step and a
domain-decomposed rollout (tests/multiprocess_checks.py) and match one process with four
devices; each process reads and writes only its own part of the data."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("multiprocess_checks.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(process_id, num_processes, port, out_dir, devices):
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
    }
    cmd = [sys.executable, str(SCRIPT), str(process_id), str(num_processes), str(port), str(out_dir)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc) -> dict:
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-4000:]
    return json.loads(stdout.split("RESULT", 1)[1].splitlines()[0])


@pytest.mark.slow  # ~35 s on 2 cores (two processes plus a 4-device reference)
def test_two_processes_match_one(tmp_path):
    ref_dir, two_dir = tmp_path / "one", tmp_path / "two"
    ref_dir.mkdir()
    two_dir.mkdir()
    ref = _launch(0, 1, 0, ref_dir, 4)
    port = _free_port()
    procs = [_launch(i, 2, port, two_dir, 2) for i in range(2)]
    outs = [_result(p) for p in procs]
    one = _result(ref)
    assert [o["processes"] for o in outs] == [2, 2]

    # the generated file is the same, and each process wrote only its devices' samples
    with h5py.File(ref_dir / "data.h5") as a, h5py.File(two_dir / "data.h5") as b:
        np.testing.assert_array_equal(b["trajectories"][()], a["trajectories"][()])
        np.testing.assert_array_equal(b["parameters/viscosity"][()], a["parameters/viscosity"][()])
    written = [set(o["rows_written_per_chunk"]) for o in outs]
    assert not written[0] & written[1] and written[0] | written[1] == set(one["rows_written_per_chunk"])

    # each process read half of the global batch, the halves make the one-process batch
    read = [set(o["samples_read"]) for o in outs]
    assert len(read[0]) == len(read[1]) == 4 and not read[0] & read[1]
    assert read[0] | read[1] == set(one["samples_read"])

    # the data-parallel step: same loss, same updated weights on every process
    w_one = np.load(ref_dir / "process0.npz")["weights"]
    for i, o in enumerate(outs):
        np.testing.assert_allclose(o["loss"], one["loss"], rtol=1e-12)
        np.testing.assert_allclose(np.load(two_dir / f"process{i}.npz")["weights"], w_one, rtol=1e-12, atol=1e-14)

    # the split rollout: each process holds its own rows, which equal the one-process ones
    ref_arrays = np.load(ref_dir / "process0.npz")
    held = []
    for i, o in enumerate(outs):
        np.testing.assert_allclose(o["gradient"], one["gradient"], rtol=1e-12)
        arrays = np.load(two_dir / f"process{i}.npz")
        for start in o["final_rows"]:
            key = f"final_rows_{start}"
            np.testing.assert_allclose(arrays[key], ref_arrays[key], rtol=0, atol=1e-12)
            held.append(start)
    assert sorted(held) == sorted(one["final_rows"]) and len(set(held)) == len(held)
