"""schemathesis against the typed example (examples/typed_tasks.py) on a real server.

uvicorn serves the example; schemathesis (its command line, run as a subprocess) reads
the app's own `/openapi.json` and runs every phase (examples, coverage, fuzzing and
stateful sequences that follow the links it infers, create -> read -> patch ->
delete) with every check it has: no server errors, status codes, content types,
headers and bodies as documented, invalid input rejected with a 4xx and valid input
accepted, undocumented methods answered 405 with Allow, authentication not ignored. A
seed and a bounded number of examples per operation keep the run reproducible and
short. Its warnings fail the run too (all of them: a run that saw only 401s, because
the token was wrong, would otherwise pass). The run's events (an NDJSON report) are
then read to check that it really reached the handlers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import uvicorn

# Installed for Python 3.11 and later only (see the test extra in pyproject.toml): the
# releases for 3.10 stop at 4.30, which takes unknown query parameters for invalid input.
pytest.importorskip("schemathesis", minversion="4.32")
from schemathesis.config import SchemathesisWarning  # after the version check

SEED = 20250
MAX_EXAMPLES = 25
TOKEN = "schemathesis-token"
# A net for a run that hangs; the run takes a few seconds.
RUN_LIMIT = 50

WARNINGS = [
    "missing_auth",
    "missing_test_data",
    "base_url_mismatch",
    "validation_mismatch",
    "missing_deserializer",
    "unused_openapi_auth",
    "unsupported_regex",
    "method_not_allowed",
    "unmatched_filter",
    "unresolvable_reference",
    "low_valid_rate",
    "rate_limited",
    "dictionary_mismatch",
    "timeout_units",
]
# Those this schemathesis knows (the releases for Python 3.10 stop at 4.30, which knows
# fewer, and refuses a name it does not know).
KNOWN = {warning.value for warning in SchemathesisWarning}
CONFIG = "[warnings]\nfail-on = true\ndisplay = [{}]\n".format(
    ", ".join(f'"{name}"' for name in WARNINGS if name in KNOWN)
)

# What each operation must have answered at least once: a success, and the 4xx of
# invalid input (422), of a request without the token (401), of a task that is not
# there (404).
EXPECTED = {
    "GET /tasks": {200, 401, 422},
    "POST /tasks": {201, 401, 422},
    "GET /tasks/{task_id}": {200, 401, 404, 422},
    "PATCH /tasks/{task_id}": {200, 401, 404, 422},
    "DELETE /tasks/{task_id}": {204, 401, 404, 422},
}
CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKS_API_TOKEN", TOKEN)  # the server process inherits it
        yield from uvicorn("examples.typed_tasks:app")


def test_schemathesis_finds_no_failures(server: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    report = tmp_path / "events.ndjson"
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        f"http://{server}/openapi.json",
        *("--checks", "all"),
        *("--max-examples", str(MAX_EXAMPLES)),
        *("--seed", str(SEED)),
        *("--workers", "1"),
        *("--header", f"Authorization: Bearer {TOKEN}"),
        *("--generation-database", "none"),  # nothing kept between runs
        *("--request-timeout", "10"),
        *("--report", "ndjson", "--report-ndjson-path", str(report)),
        "--no-color",
    ]
    # In the test's directory: schemathesis writes nothing into the checkout.
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_LIMIT
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = output[output.rfind("\n", 0, output.index(" SUMMARY ")) + 1 :]
    print(summary)  # shown with -s
    assert "No issues found" in summary

    statuses: dict[str, set[int]] = defaultdict(set)
    checks: set[str] = set()
    outcomes: set[str] = set()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None or finished["status"] == "skip":
            continue
        recorder = finished["recorder"]
        for interaction in recorder["interactions"].values():
            response = interaction.get("response")
            if response is not None:
                statuses[recorder["label"]].add(response["status_code"])
        for results in recorder["checks"].values():
            for check in results:
                checks.add(check["name"])
                outcomes.add(check["status"])
    for label, expected in EXPECTED.items():
        assert expected <= statuses[label], (label, sorted(statuses[label]))
    assert not any(status >= 500 for seen in statuses.values() for status in seen)
    assert checks >= CHECKS
    assert outcomes == {"success"}
