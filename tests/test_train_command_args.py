"""`stratlog train`'s torchrun arguments: what it adds for the sink and what it refuses, with one
line and exit 2 before anything starts. Run: ./run-tests tests/test_train_command_args.py"""

from __future__ import annotations

from stratlog.cli import build_parser, main
from stratlog.train_command import torchrun_args, with_sink


def test_the_sink_flags_are_added_after_the_script_flags():
    args = build_parser().parse_args(["train", "--headless", "--", "--nproc_per_node=2", "train.py", "--max_steps", "3"])
    given = torchrun_args(args)
    assert given == ["--nproc_per_node=2", "train.py", "--max_steps", "3"] and args.headless
    assert with_sink(given, "tcp://127.0.0.1:7") == [*given, "--enable_strategic_logging", "--strategic_sink_address",
                                                     "tcp://127.0.0.1:7"]
    enabled = [*given, "--enable_strategic_logging"]
    assert with_sink(enabled, "tcp://127.0.0.1:7").count("--enable_strategic_logging") == 1


def test_flags_after_the_separator_belong_to_torchrun_not_to_stratlog():
    args = build_parser().parse_args(["train", "--", "--nproc_per_node=2", "train.py", "--headless"])
    assert not args.headless and torchrun_args(args)[-1] == "--headless"


def test_no_torchrun_arguments_or_an_address_of_ones_own_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["train", "--log-dir", str(tmp_path / "logs")]) == 2
    assert "no torchrun arguments" in capsys.readouterr().err
    assert main(["train", "--log-dir", str(tmp_path / "logs"), "--", "--nproc_per_node=2", "train.py",
                 "--strategic_sink_address=tcp://127.0.0.1:5560"]) == 2
    assert "drop --strategic_sink_address" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()  # refused before anything started
