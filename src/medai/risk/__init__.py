"""Clinical risk prediction from patient tables: binary outcomes and survival.

>>> from medai import risk
>>> bundle = risk.train("patients.csv", target="outcome")      # doctest: +SKIP
>>> bundle.save("model/"); risk.RiskBundle.load("model/").predict("new.csv")  # doctest: +SKIP
"""

from medai.risk.model import Explanation, RiskBundle
from medai.risk.schema import Schema, infer_schema
from medai.risk.train import train
from medai.risk.validate import Evaluation, evaluate

__all__ = ["Evaluation", "Explanation", "RiskBundle", "Schema", "evaluate", "infer_schema", "train"]
