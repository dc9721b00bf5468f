"""`presence import`: mixed captures through the same validation and dedupe as HTTP, line by line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from config.settings import Settings
from receiver.imports import ImportSummary, captures, import_capture
from receiver.ingest import Ingestor
from store import db
from store.records import Normalizer
from tests.conftest import count_observations
from tests.servers import PRESENCE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def one_line(name: str) -> str:
    return json.dumps(json.loads((FIXTURES / name).read_text()))


def mixed_capture(tmp_path: Path) -> Path:
    lines = [
        one_line("engenius_sample.json"),
        one_line("aerohive_sample.json"),
        "",
        one_line("meraki_v2_sample.json"),
        one_line("meraki_v3_sample.json"),
        "{not json",
        json.dumps({"hello": "world"}),
        one_line("engenius_sample.json"),
        json.dumps({"node_mac": "ac:86:74:82:9a:30", "probe_requests": [{"mac": "bad"}]}),
    ]
    path = tmp_path / "captures.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_line_is_stored_deduplicated_or_refused_with_its_reason(settings: Settings, tmp_path):
    engine = db.make_engine(settings.database_url, writer=True)
    db.migrate(engine)
    ingestor = Ingestor(engine, Normalizer(settings))
    summary = ImportSummary([import_capture(ingestor, capture) for capture in captures(mixed_capture(tmp_path))])

    got = [(o.source, o.vendor, o.stored, o.duplicates, o.refused) for o in summary.outcomes]
    assert got == [
        ("captures.ndjson:1", "engenius", 3, 0, None),
        ("captures.ndjson:2", "aerohive", 1, 2, None),
        ("captures.ndjson:4", "meraki", 2, 0, None),
        ("captures.ndjson:5", "meraki", 4, 0, None),
        ("captures.ndjson:6", None, 0, 0, "400: body is not valid JSON"),
        ("captures.ndjson:7", None, 0, 0, "cannot tell the vendor from the body's shape; pass --vendor"),
        ("captures.ndjson:8", "engenius", 0, 3, None),
        ("captures.ndjson:9", "engenius", 0, 0, got[-1][4]),
    ]
    assert got[-1][4].startswith("422: invalid payload: probe_requests[0].mac")
    assert count_observations(engine) == 10
    engine.dispose()


def test_import_command_prints_a_summary_and_fails_when_something_was_refused(tmp_path):
    directory = tmp_path / "bodies"
    directory.mkdir()
    (directory / "a.json").write_text(one_line("engenius_sample.json"))
    (directory / "b.json").write_text(one_line("meraki_v3_sample.json"))
    env = {**os.environ, "PRESENCE_DATA_DIR": str(tmp_path / "data")}

    ok = subprocess.run([PRESENCE, "import", str(directory)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (
        "2 bodies (1 engenius, 1 meraki accepted): 7 observations stored, 0 duplicates skipped, 0 bodies refused"
        in ok.stdout
    )

    mixed = subprocess.run([PRESENCE, "import", str(mixed_capture(tmp_path))], env=env, capture_output=True, text=True)
    assert mixed.returncode == 1
    assert "captures.ndjson:6: refused (400: body is not valid JSON)" in mixed.stdout
    assert "8 bodies" in mixed.stdout
    assert "3 bodies refused" in mixed.stdout

    forced = subprocess.run(
        [PRESENCE, "import", "--vendor", "aerohive", str(directory / "a.json")], env=env, capture_output=True, text=True
    )
    assert forced.returncode == 1
    assert "refused (422: invalid payload: ownerId: Field required" in forced.stdout
