"""What importing the models costs and sets: their names come without NumPy and SciPy (a command checks its
settings before it reads), and OpenBLAS's idle threads are told not to spin (set when loyalty_cli loads)."""

from __future__ import annotations

import os
import subprocess
import sys

from loyalty_cli.models import PURCHASE_MODELS
from loyalty_cli.models.purchase import MODEL_CLASSES


def _run(code: str, **env: str | None) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    environ.update({k: v for k, v in env.items() if v is not None})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=True)
    return done.stdout.strip()


def test_the_names_are_the_fitted_classes_in_order():
    assert tuple(MODEL_CLASSES) == PURCHASE_MODELS == ("bgnbd", "pnbd", "mbgnbd")


def test_a_command_without_a_model_checks_its_settings_without_numpy_or_scipy():
    code = (
        "import sys\n"
        "from loyalty_cli.app.churn import ChurnConfig\n"
        "from loyalty_cli.app.lifecycle import LifecycleConfig\n"
        "ChurnConfig(model=None); LifecycleConfig()\n"
        "from loyalty_cli.models import PURCHASE_MODELS\n"
        "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules), PURCHASE_MODELS)\n"
    )
    assert _run(code) == "[] ('bgnbd', 'pnbd', 'mbgnbd')"
    # a name of the fitting code loads it when asked for
    assert (
        _run("import sys\nfrom loyalty_cli.models import fit_purchase_model\nprint('scipy' in sys.modules)") == "True"
    )


def test_openblas_threads_do_not_spin_unless_the_environment_says_otherwise():
    code = "import os, loyalty_cli\nprint(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    assert _run(code) == "4"
    assert _run(code, OPENBLAS_THREAD_TIMEOUT="12") == "12"
