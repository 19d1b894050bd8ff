"""The Demo page with a finished run, driven by Streamlit's AppTest in a fresh process.

It shows the run picker, the gradio_client snippet and the CLI line, and its export button
writes a Space folder, all without importing keras or TensorFlow (the page runs inside the
Streamlit server). Without `streamlit run` the demo is not mounted, which the page says.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from studio.inference.examples import write_examples
from studio.runs.store import RunStore
from tests.conftest import REPO
from tests.helpers.sample_run import make_sample_run

HEAVY = ("keras", "tensorflow", "jax", "torch", "gradio")


def test_demo_page_shows_the_snippet_and_exports_without_keras(tmp_path):
    home = tmp_path / "home"
    store = RunStore(home)
    run = make_sample_run(store)
    write_examples(store, run.id)  # in-process: the export then needs no dataset subprocess
    out = tmp_path / "space"
    script = textwrap.dedent(
        f"""
        import json, sys
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file("app.py", default_timeout=120).run()
        at.switch_page("pages/demo.py").run()
        report = {{
            "errors": [str(e.value) for e in at.exception],
            "select": at.selectbox[0].value,
            "warnings": [w.value for w in at.warning],
            "code": [c.value for c in at.code],
        }}
        at.text_input(key="space_dir_{run.id}").set_value({str(out)!r}).run()
        next(b for b in at.button if b.label == "Export Space folder").click().run()
        report["success"] = [s.value for s in at.success]
        report["export_errors"] = [e.value for e in at.error]
        report["loaded"] = [m for m in sys.argv[1:] if m in sys.modules]
        print(json.dumps(report))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *HEAVY],
        cwd=REPO,
        # No warm spare: the Train page would start one that outlives this test.
        env={
            "STUDIO_HOME": str(home),
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "STUDIO_WARM_WORKER": "0",
        },
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["select"] == run.id
    assert any("not mounted" in w for w in report["warnings"])
    snippet = next(c for c in report["code"] if "gradio_client" in c)
    assert f'run="{run.id}"' in snippet and 'api_name="/predict"' in snippet
    assert any(f"python -m studio predict {run.id}" in c for c in report["code"])
    assert report["export_errors"] == []
    assert any(str(out) in s for s in report["success"])
    assert (out / "app.py").is_file() and (out / "model.keras").is_file()
    assert report["loaded"] == [], f"the Demo page imported {report['loaded']}"
