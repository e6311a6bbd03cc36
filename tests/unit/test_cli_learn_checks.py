"""`dispatch train -o` and `dispatch eval outcomes --plot` are checked before
any training: a path that cannot be written fails at once, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.cli.learn_checks import check_output
from dispatch.errors import ConfigError
from dispatch.eval.plot import check_plot_format


def test_a_new_file_in_a_folder_still_to_be_made_is_writable(tmp_path: Path) -> None:
    check_output(tmp_path / "runs" / "today" / "router.npz", "artefact")
    assert not (tmp_path / "runs").exists()  # checking creates nothing


def test_a_directory_is_not_a_file_to_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write artefact: a directory"):
        check_output(tmp_path, "artefact")


def test_a_path_under_a_file_names_the_file(tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text("{}")
    with pytest.raises(ConfigError) as info:
        check_output(models / "out" / "curve.png", "the --plot")
    message = str(info.value)
    assert "cannot write the --plot: models.json is a file, not a folder" in message
    assert "curve.png" in message


def test_a_plot_suffix_matplotlib_cannot_write_lists_the_formats(
    tmp_path: Path,
) -> None:
    pytest.importorskip("matplotlib")
    check_plot_format(tmp_path / "curve.png")
    check_plot_format(tmp_path / "curve")  # no suffix: PNG
    with pytest.raises(
        ConfigError, match=r"no image format for this suffix \(found 'xyz'"
    ) as info:
        check_plot_format(tmp_path / "curve.xyz")
    assert "png" in str(info.value) and "svg" in str(info.value)
