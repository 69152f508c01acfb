import json
import subprocess
import sys

import pytest

import lstmkit
from lstmkit.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lstmkit", *args], capture_output=True, text=True)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"lstmkit {lstmkit.__version__}"


def test_help_shows_commands_and_examples():
    result = run_cli("demo", "--help")
    assert result.returncode == 0
    for option in ("--out", "--epochs", "--batch-size", "--seed", "--device", "--quiet", "--debug"):
        assert option in result.stdout
    assert "examples:" in result.stdout


def test_demo_trains_evaluates_and_saves(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "2400 for training, 600 held out" in printed
    assert "held-out loss" in printed and "accuracy" in printed
    assert f"model saved to {out}" in printed
    model = lstmkit.load_model(out)
    assert model.metadata["task"] == "text_classification"
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["layers"][0]["config"]["input_dim"] == 1024


def test_user_errors_exit_2_with_one_line():
    result = run_cli("demo", "--epochs", "-1", "--quiet", "--out", "/tmp/unused")
    assert result.returncode == 2
    assert result.stderr.strip() == "lstmkit demo: error: epochs must be at least 0, got -1"
    result = run_cli("demo", "--device", "tpu")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = run_cli("demo", "--epochs", "many")
    assert result.returncode == 2 and "invalid int value" in result.stderr


def test_no_command_prints_help():
    assert run_cli().returncode == 2


def test_demo_resume_continues_exactly(tmp_path, capsys):
    main(["demo", "--epochs", "1", "--out", str(tmp_path / "a"), "--quiet"])
    main(["demo", "--epochs", "2", "--out", str(tmp_path / "a"), "--quiet",
          "--resume", str(tmp_path / "a" / "checkpoints")])
    resumed = capsys.readouterr().out.splitlines()
    main(["demo", "--epochs", "2", "--out", str(tmp_path / "b"), "--quiet"])
    whole = capsys.readouterr().out.splitlines()
    held_out = [line for line in resumed if line.startswith("held-out")]
    assert held_out[-1] == [line for line in whole if line.startswith("held-out")][0]


def test_inspect_a_saved_text_model_and_numeric_input(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    main(["demo", "--epochs", "1", "--out", str(tmp_path / "demo"), "--quiet"])
    assert main(["inspect", str(tmp_path / "demo"), "--text", "Great phone!",
                 "--out", str(tmp_path / "g.png")]) == 0
    printed = capsys.readouterr().out
    assert "<start>" in printed and "great" in printed and "forget" in printed
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    import numpy as np
    from lstmkit import Sequential
    from lstmkit.layers import LSTM, Dense
    model = Sequential([LSTM(3), Dense(1)])
    model.build((None, 2))
    model.save(tmp_path / "series")
    np.save(tmp_path / "x.npy", np.zeros((5, 2), dtype=np.float32))
    assert main(["inspect", str(tmp_path / "series"), "--input", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "s.png")]) == 0
    assert main(["inspect", str(tmp_path / "series"), "--text", "hello"]) == 2
    assert "not a text model" in capsys.readouterr().err


def test_nproc_starts_the_processes_through_torchrun(tmp_path):
    from lstmkit.cli import without_nproc
    assert without_nproc(["demo", "--nproc", "2", "--quiet", "--nproc=3"]) == ["demo", "--quiet"]
    result = run_cli("demo", "--nproc", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("held-out loss") == 1  # one process reports
    assert lstmkit.load_model(tmp_path / "d").metadata["task"] == "text_classification"
    assert run_cli("demo", "--nproc", "0").returncode == 2
