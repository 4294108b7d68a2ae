"""Python 3.9+ (RHEL 9 and macOS ship 3.9), checked statically since no other interpreter is installable here;
one version number; the console scripts `pip install .` declares."""

from __future__ import annotations

import configparser
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

import oc_virt_expose

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ZIPAPP = [REPO / "tests" / "packaging" / "zipapp_main.py", REPO / "tests" / "packaging" / "zipapp_start.py"]


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def test_plugin_and_one_file_start_up_need_nothing_newer_than_python_3_9() -> None:
    result = subprocess.run([str(VENV_BIN / "vermin"), "-q", "--no-tips", "--violations", "-t=3.9-",
                             str(REPO / "oc_virt_expose"), *map(str, ZIPAPP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_and_the_package_say_python_3_9() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["ruff"]["target-version"] == "py39"
    assert setup_cfg()["options"]["python_requires"] == ">=3.9"


def test_version_has_one_source() -> None:
    assert setup_cfg()["metadata"]["version"] == "attr: oc_virt_expose.__version__"
    assert importlib.metadata.version("virt-expose") == oc_virt_expose.__version__
    shown = subprocess.run([str(VENV_BIN / "oc-virt_expose"), "--version"], capture_output=True, text=True)
    assert shown.stdout.split() == ["virt-expose", oc_virt_expose.__version__]
    manifest = yaml.safe_load((REPO / "plugin-manifest.yaml").read_text())  # `make dist` writes it
    assert manifest["spec"]["version"] == f"v{oc_virt_expose.__version__}"


def test_pip_install_declares_the_plugin_and_completion_executables() -> None:
    scripts = dict(line.split(" = ") for line in setup_cfg()["options.entry_points"]["console_scripts"].split("\n")
                   if " = " in line)
    assert scripts == {
        "oc-virt_expose": "oc_virt_expose.cli:main",
        "kubectl-virt_expose": "oc_virt_expose.cli:main",
        "kubectl_complete-virt_expose": "oc_virt_expose.completion:kubectl_complete",
        "oc_complete-virt_expose": "oc_virt_expose.completion:kubectl_complete",
    }
    installed = {entry.name for entry in importlib.metadata.entry_points(group="console_scripts")
                 if entry.dist is not None and entry.dist.name == "virt-expose"}
    assert installed == set(scripts)
