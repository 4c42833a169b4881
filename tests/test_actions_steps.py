"""Per-step overlays, `[steps.<percent>.<section>]`: merged over cutover.toml for the run's step,
every one of them validated whatever the step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cutover.config import ConfigError, CutoverConfig, load_config
from tests.actions_support import actions_toml, lines, make_project
from tests.conftest import MINIMAL_CONFIG

LOAD = """
[load]
users = 20
duration = "2m"
thresholds = ["p95 < 100ms", "error_rate < 1%"]
"""


def config_at(
    tmp_path: Path, text: str, step: float | None, environ: dict[str, str] | None = None
) -> CutoverConfig:
    path = tmp_path / "cutover.toml"
    path.write_text(MINIMAL_CONFIG + text)
    return load_config(path, environ or {}, step=step)


def test_the_overlay_of_the_runs_step_is_merged_over_the_config(tmp_path: Path) -> None:
    text = LOAD + '[steps.100.load]\nthresholds = ["p95 < 50ms"]\nduration = "5m"\n'
    final = config_at(tmp_path, text, 100.0)
    assert final.load is not None
    assert [str(t) for t in final.load.thresholds] == ["p95 < 50ms"]  # an array is replaced
    assert (final.load.duration, final.load.users) == (300.0, 20)  # a table merges key by key
    canary = config_at(tmp_path, text, 10.0)
    assert canary.load is not None
    assert [str(t) for t in canary.load.thresholds] == ["p95 < 100ms", "error_rate < 1%"]
    assert config_at(tmp_path, text, None).load == canary.load


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[steps.100.lode]\nusers = 2\n", "steps.100.lode: unknown section (expected one of: "),
        ("[steps.100.lode]\nusers = 2\n", "did you mean 'load'?"),
        ("[steps.150.load]\nusers = 2\n", "steps.150: expected a traffic step in percent"),
        ("[steps.half.load]\nusers = 2\n", "steps.half: expected a traffic step in percent"),
        ("[steps]\n100 = 3\n", "steps.100: expected tables such as [steps.100.load]"),
        ('[steps.50.load]\nusers = 2\n[steps."50%".load]\nusers = 3\n', "has two overlays"),
        # Checked whatever the step: a mistake in the 100% overlay stops the 10% run.
        ('[steps.100.load]\nusers = "many"\n', "steps.100: load.users = 'many'"),
        ("[steps.100.load]\nuser = 3\n", "steps.100: load.user: unknown key"),
    ],
)
def test_overlay_mistakes_are_config_errors_at_any_step(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        config_at(tmp_path, LOAD + text, 10.0)
    assert message in str(raised.value)


def test_a_secret_in_an_overlay_is_masked_at_every_step(tmp_path: Path) -> None:
    text = '[steps.100.systems.new]\nheaders = { X-Api = "${FINAL_TOKEN}" }\n'
    for step in (10.0, 100.0):
        config = config_at(tmp_path, text, step, {"FINAL_TOKEN": "f1nal-t0ken-9"})
        assert config.redactor.text("sent f1nal-t0ken-9") == "sent ***"


def test_the_plugin_applies_the_overlay_of_cutover_step(pytester: pytest.Pytester) -> None:
    """At 100% a NO-GO holds (a team that rolls back by hand at the last step); below it rolls
    back."""
    toml = actions_toml() + '\n[steps.100.actions]\non_no_go = "hold"\n'
    folder = make_project(pytester.path, toml)
    pytester.makepyfile(
        test_gate="import pytest\n@pytest.mark.canary_gate\ndef test_x():\n    assert False\n"
    )
    held = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "100")
    assert held.ret == 1
    assert not (folder / "traffic.log").exists()
    held.stdout.fnmatch_lines(["*action: hold: held: traffic stays at 50%*"])
    rolled = pytester.runpytest_subprocess("-m", "canary_gate", "--cutover-step", "50")
    assert rolled.ret == 1
    assert lines(folder / "traffic.log") == ["0"]
    assert json.loads(lines(folder / "rollbacks.log")[0])[0].startswith("gate decision NO-GO")
