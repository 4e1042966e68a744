"""The README's Python examples run as written, so the documentation cannot rot."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the examples write their files
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no Python example"
    results = []
    for block in blocks:
        namespace = {}
        exec(compile(block, str(README), "exec"), namespace)
        results.append(namespace)
    engine, training = results[0], results[1]
    assert engine["a"].grad != 0.0 and engine["loss"].data >= 0.0
    assert training["session"].summary()["converged"] == 1.0
    assert (tmp_path / "moons-model.json").exists()
