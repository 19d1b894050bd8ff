"""The UI process never imports keras or TensorFlow: pages stay fast and workers own the GPU."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO

HEAVY = ("keras", "tensorflow", "jax", "torch")


def test_app_modules_and_every_page_leave_keras_unimported(tmp_path):
    script = textwrap.dedent(
        """
        import json, sys
        import pkgutil, importlib, studio.ui
        for module in pkgutil.iter_modules(studio.ui.__path__):
            importlib.import_module(f"studio.ui.{module.name}")
        from streamlit.testing.v1 import AppTest

        errors = []
        for page in ("pages/train.py", "pages/runs.py", "pages/patches.py", "pages/demo.py"):
            at = AppTest.from_file("app.py", default_timeout=60).run()
            at.switch_page(page).run()
            errors += [f"{page}: {e.value}" for e in at.exception]
        loaded = [m for m in sys.argv[1:] if m in sys.modules]
        print(json.dumps({"loaded": loaded, "errors": errors}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *HEAVY],
        cwd=REPO,
        # No warm spare: the Train page would start one, a process of its own that outlives
        # this test (the pages' own imports are what this test watches).
        env={
            "STUDIO_HOME": str(tmp_path / "home"),
            "PATH": "/usr/bin:/bin",
            "STUDIO_WARM_WORKER": "0",
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["loaded"] == [], f"the UI imported {report['loaded']}"
