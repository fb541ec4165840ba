"""voxstudio.runs.runfolder: what the Train page shows of train.log."""

from __future__ import annotations

from voxstudio.runs import runfolder


def test_readable_log_drops_terminal_codes_and_keeps_the_last_redraw_of_a_progress_bar():
    lines = [
        "\x1b[32mINFO\x1b[0m starting run",
        " 10%|█         | 1/10\r 50%|█████     | 5/10\r100%|██████████| 10/10   ",
        "\x1b[?25lstep 10 loss 0.5\x1b[?25h",
        "",
    ]
    assert runfolder.readable_log(lines) == "INFO starting run\n100%|██████████| 10/10\nstep 10 loss 0.5\n"
    assert runfolder.readable_log([]) == ""


def test_tail_log_then_readable_log_on_a_real_run_folder(tmp_path):
    (tmp_path / runfolder.LOG).write_bytes(b"one\n\x1b[1mtwo\x1b[0m\nthree \x1b[33m3/3\x1b[0m\n")
    assert runfolder.readable_log(runfolder.tail_log(tmp_path, 2)) == "two\nthree 3/3"
    assert runfolder.tail_log(tmp_path / "missing") == []
