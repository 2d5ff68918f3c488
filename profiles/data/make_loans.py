"""Regenerates loans.csv, the small data set behind profiles/loans_dataset.toml.

    python profiles/data/make_loans.py

Kept beside the file so anyone can see, and change, how the rows came about.
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 400
credit = np.clip(rng.normal(680, 60, n), 300, 850).round().astype(int)
income = np.round(rng.lognormal(4.0, 0.45, n), 1)
amount = np.round(rng.uniform(2, 60, n), 1)
term = rng.choice([36, 60], n, p=[0.6, 0.4])
purpose = rng.choice(["car", "home", "education", "debt"], n, p=[0.3, 0.2, 0.15, 0.35])
employed = rng.random(n) < 0.85
logit = (
    4.0
    - 0.008 * credit
    + 0.03 * amount
    - 0.01 * income
    + 0.4 * (term == 60)
    + 0.5 * (purpose == "debt")
    - 0.8 * employed
)
defaulted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
frame = pd.DataFrame(
    {
        "credit_score": credit,
        "income_k": income,
        "loan_amount_k": amount,
        "term_months": term,
        "purpose": purpose,
        "employed": employed,
        "defaulted": defaulted,
    }
)
frame.to_csv(Path(__file__).with_name("loans.csv"), index=False)
print(f"{n} rows, default rate {defaulted.mean():.2f}")
