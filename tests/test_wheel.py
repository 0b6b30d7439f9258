"""The wheel carries what the package reads at run time: built from the repository and installed into a fresh
virtualenv (not the editable install every other test imports), ``spreadwatch report`` answers in Chinese from
the bundled templates, and a Chinese chart is drawn with the bundled font.

No network: the wheel is built by the test interpreter's setuptools (no build isolation), installed without its
dependencies, and the fresh venv reaches them through a ``.pth`` file naming the test interpreter's
site-packages. A path line in a ``.pth`` adds the folder to ``sys.path`` without processing the ``.pth`` files
inside it, so the repository's editable ``bot``/``jobs`` (installed by such a file there) stay out of sight.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import stat
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# what a developer's checkout may hold besides the sources: never part of the build
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db", "*.db-*", "*.whl"
)

# run by the installed interpreter: where the modules, templates and font come from, and a Chinese chart
CHART_SCRIPT = """
import json, sys, warnings
from pathlib import Path

import bot, jobs
from jobs.rendering import charts, messages
from jobs.store.datastore import Store

store = Store(Path("spreadwatch.db"))  # the store `spreadwatch report` just filled, in the current folder
series = store.spread_series("sample")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    png = charts.spread_chart(series, lang="zh")
Path(sys.argv[1]).write_bytes(png)
font = charts.cjk_font()
print(json.dumps({
    "bot": bot.__file__,
    "jobs": jobs.__file__,
    "templates": str(messages.TEMPLATES_DIR),
    "font_file": str(charts.BUNDLED_CJK_FONT),
    "font": font,
    "words": charts.chart_words("zh", font) == charts.LABELS["zh"],
    "warnings": [str(w.message) for w in caught],
}))
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def dependency_dirs() -> list[str]:
    """The test interpreter's site-packages: where the wheel's dependencies are installed."""
    dirs = [*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a copy of the repository (an in-place build would leave build/ and *.egg-info in it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, out = tmp / "src", tmp / "out"
    shutil.copytree(REPO, src, symlinks=True, ignore=NOT_SOURCES)  # the templates link stays a link
    pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir"]
    built = run([sys.executable, "-m", *pip_wheel, "-w", str(out), str(src)], cwd=tmp)
    assert built.returncode == 0, (
        "pip wheel failed; without build isolation it needs setuptools>=70.1 in the test interpreter (the test "
        "extra: pip install -c constraints.txt -e '.[test]')\n" + built.stdout[-3000:] + built.stderr[-3000:]
    )
    (path,) = out.glob("spreadwatch-*.whl")
    return path


def test_wheel_holds_every_template_and_the_font_as_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        entries = {info.filename: info for info in zf.infolist()}
    files = ["jobs/rendering/fonts/NotoSansSC-spreadwatch-subset.otf"]
    for lang in ("zh", "en"):
        expected = {f"jobs/rendering/templates/{lang}/{p.name}" for p in (REPO / "templates" / lang).glob("*.j2")}
        assert expected, f"no templates in {REPO / 'templates' / lang}"
        shipped = {name for name in entries if name.startswith(f"jobs/rendering/templates/{lang}/")}
        assert shipped == expected
        files += sorted(shipped)
    assert files[0] in entries
    for name in files:
        mode = entries[name].external_attr >> 16
        assert not stat.S_ISLNK(mode) and entries[name].file_size > 0, name


def test_installed_wheel_reports_and_draws_in_chinese(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python, spreadwatch = venv / "bin" / "python", venv / "bin" / "spreadwatch"

    # no PYTHONPATH (the repository's), nothing from the user's site; the dead proxies of conftest's
    # no_internet_in_subprocesses stay
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env |= {"HOME": str(tmp_path / "home"), "PYTHONNOUSERSITE": "1", "PIP_NO_INDEX": "1"}
    (tmp_path / "home").mkdir()
    installed = run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir", str(wheel)],
        cwd=tmp_path,
        env=env,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path, env)
    (Path(purelib.stdout.strip()) / "_test_interpreter_deps.pth").write_text("\n".join(dependency_dirs()) + "\n")

    work = tmp_path / "work"  # outside the repository: no config.yaml, the store lands here
    work.mkdir()
    report = run([str(spreadwatch), "report", "--as-of", "2025-02-14"], cwd=work, env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "行业分化 · 2025-02-14\n" in report.stdout  # the /spread answer ...
    assert "涨幅前5行业 · 2025-02-14（" in report.stdout  # ... then the /top5 answer
    assert "合成样本数据，仅供演示，并非真实行情" in report.stdout
    assert (work / "spreadwatch.db").is_file()

    png = tmp_path / "spread-zh.png"
    drawn = run([str(python), "-c", CHART_SCRIPT, str(png)], cwd=work, env=env)
    assert drawn.returncode == 0, drawn.stderr
    found = json.loads(drawn.stdout)
    venv_root = venv.resolve()
    for key in ("bot", "jobs", "templates", "font_file"):
        path = Path(found[key]).resolve()
        assert path.is_relative_to(venv_root), f"{key} from {path}, not from the fresh venv"
        assert not path.is_relative_to(REPO), f"{key} from the repository: {path}"
    assert (Path(found["templates"]) / "zh" / "spread.j2").is_file()
    assert found["font"] == "Spreadwatch Sans SC Subset"  # the bundled subset, not a font of this machine
    assert found["words"], "the chart fell back to English words"
    assert not [w for w in found["warnings"] if "Glyph" in w], found["warnings"]
    assert png.read_bytes().startswith(PNG_SIGNATURE)
