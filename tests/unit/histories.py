"""What the condition-history tests share: a cohort drawn with every observation and a
history, one observation's results in visit order, and `synthpatient ask` through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from synthpatient.knowledge import CohortSampler, CohortSpec, load_knowledge_base


def history_cohort(condition: str, n: int, years: float, seed: int) -> Any:
    """``n`` patients of ``condition`` with every observation it records, drawn as a request
    is (the sampler simulates the history and keeps the tails' relations at every visit)."""
    kb = load_knowledge_base()
    n_obs = len(kb.conditions[condition].observations)
    spec = CohortSpec(
        condition=condition, n=n, n_observations=n_obs, follow_up_years=years, seed=seed
    )
    return CohortSampler(kb).sample(spec)


def results(cohort: Any, observation: str) -> pd.DataFrame:
    """One row per result of ``observation``: patient, date, value, in visit order."""
    obs = cohort.timeline.observations.astype({"patient_id": str})
    rows = obs[obs["observation"] == observation][["patient_id", "effective_date", "value"]]
    return rows.sort_values(["patient_id", "effective_date"], ignore_index=True)


def ask(text: str, out: Path) -> Any:
    """``synthpatient ask TEXT --yes -o OUT`` in-process; the typer result."""
    from synthpatient.cli import app

    return CliRunner().invoke(
        app, ["ask", text, "--yes", "-o", str(out)], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
