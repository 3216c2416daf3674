"""Validation reports: a self-contained HTML page (plots embedded as PNG) and the plots.

The page's sections follow the TRIPOD+AI items a tool can fill in; pillars add sections in
that order through :class:`Report`. Plots are drawn with matplotlib's Agg backend and
embedded as base64, so the report reads offline.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medai.core.metrics import (
    Estimate,
    auroc,
    calibration_curve,
    net_benefit,
    net_benefit_treat_all,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "TRIPOD_SECTIONS",
    "Report",
    "calibration_figure",
    "confusion_figure",
    "contribution_figure",
    "curves_figure",
    "decision_curve_figure",
    "figure_html",
    "importance_figure",
    "km_figure",
    "metrics_table",
    "roc_figure",
    "shap_summary_figure",
    "table_html",
]

#: Report sections in TRIPOD+AI order (the items a tool can fill in).
TRIPOD_SECTIONS = (
    "Data source and size",
    "Outcome",
    "Predictors",
    "Missing data",
    "Split and validation",
    "Model",
    "Hyperparameters",
    "Discrimination",
    "Calibration",
    "Clinical usefulness",
    "Explanations",
    "Subgroups",
    "Intended use and limitations",
)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#1d2733;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #2b6cb0;padding-bottom:.3em}
h2{font-size:1.2em;color:#2b6cb0;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #cbd5e0;padding:.3em .6em;text-align:left}
th{background:#edf2f7}
.warn{background:#fff5e6;border-left:4px solid #dd6b20;padding:.5em .8em;margin:.6em 0}
.fig{display:inline-block;margin:.4em}
.muted{color:#5a6775;font-size:.9em}
"""


def _plt() -> Any:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_html(fig: Figure, alt: str, *, width: int = 460) -> str:
    """Embed a matplotlib figure as a base64 PNG ``<img>`` and close it."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return (
        f'<div class="fig"><img alt="{html.escape(alt)}" width="{width}" '
        f'src="data:image/png;base64,{data}"></div>'
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float | np.floating):
        return "–" if not np.isfinite(v) else f"{v:.3f}"
    return html.escape(str(v))


def table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain HTML table from a list of dicts (values escaped, floats to 3 places)."""
    if not rows:
        return '<p class="muted">none</p>'
    cols = list(columns or rows[0].keys())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def limitations_html(card: Mapping[str, Any]) -> str:
    """A model card's intended use, what it must not be used for (if stated) and its
    limitations, for the report's "Intended use and limitations" section."""
    items = "".join(f"<li>{html.escape(x)}</li>" for x in card.get("limitations", []))
    must_not = card.get("must_not_use")
    warn = f"<p><b>Must not be used:</b> {html.escape(must_not)}</p>" if must_not else ""
    return f"<p>{html.escape(card.get('intended_use', ''))}</p>{warn}<ul>{items}</ul>"


def metrics_table(metrics: Mapping[str, Estimate | Mapping[str, Any]]) -> str:
    """Table of metric name, estimate, 95% CI and n."""
    rows = []
    for name, m in metrics.items():
        d: dict[str, Any] = m.to_dict() if isinstance(m, Estimate) else dict(m)
        ci = d.get("ci95") or [None, None]
        rows.append(
            {
                "metric": name,
                "estimate": d.get("estimate"),
                "95% CI": f"{_fmt(ci[0])} – {_fmt(ci[1])}",
                "n": d.get("n"),
            }
        )
    return table_html(rows)


@dataclass
class Report:
    """An HTML validation report assembled section by section."""

    title: str
    subtitle: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, title: str, body_html: str) -> None:
        """Append a section; ``body_html`` is trusted HTML built with this module's helpers."""
        self.sections.append((title, body_html))

    def to_html(self) -> str:
        warn = "".join(f'<div class="warn">{html.escape(w)}</div>' for w in self.warnings)
        body = "".join(f"<h2>{html.escape(t)}</h2>\n{b}\n" for t, b in self.sections)
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1><p class='muted'>{html.escape(self.subtitle)}</p>"
            f"{warn}{body}</body></html>"
        )

    def save(self, path: str | Path) -> Path:
        """Write the HTML atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_html(), encoding="utf-8")
        tmp.replace(path)
        return path


# --- plots -----------------------------------------------------------------------------------
def roc_figure(y: np.ndarray, p: np.ndarray, label: str = "model") -> Figure:
    """ROC curve with the AUROC in the legend."""
    from sklearn.metrics import roc_curve

    plt = _plt()
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot(fpr, tpr, lw=2, label=f"{label} (AUROC {auroc(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC curve")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def calibration_figure(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> Figure:
    """Reliability diagram (quantile bins) with a histogram of predictions."""
    plt = _plt()
    mean_p, frac, _ = calibration_curve(y, p, n_bins=n_bins)
    fig, (ax, axh) = plt.subplots(
        2, 1, figsize=(4.2, 4.6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    ax.plot(mean_p, frac, "o-", lw=2, label="model")
    ax.set(ylabel="observed fraction", title="Calibration", ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=8)
    axh.hist(p, bins=20, range=(0, 1), color="#2b6cb0")
    axh.set(xlabel="predicted probability", ylabel="count")
    return fig


def decision_curve_figure(y: np.ndarray, p: np.ndarray) -> Figure:
    """Net benefit of the model, treat-all and treat-none across thresholds."""
    plt = _plt()
    t = np.linspace(0.01, 0.8, 80)
    nb = net_benefit(y, p, t)
    nb_all = net_benefit_treat_all(y, t)
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.plot(t, nb, lw=2, label="model")
    ax.plot(t, nb_all, lw=1, label="treat all")
    ax.axhline(0, c="k", lw=1, label="treat none")
    prev = float(np.mean(y))
    ax.set(
        xlabel="threshold probability",
        ylabel="net benefit",
        title="Decision curve",
        ylim=(min(-0.05, -0.1 * prev), max(prev * 1.1, 0.05)),
    )
    ax.legend(fontsize=8)
    return fig


def importance_figure(names: Sequence[str], importance: np.ndarray, top: int = 15) -> Figure:
    """Horizontal bar chart of mean |SHAP| per column."""
    plt = _plt()
    order = np.argsort(importance)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(5.0, 0.3 * len(order) + 1.0))
    ax.barh([names[i] for i in order], importance[order], color="#2b6cb0")
    ax.set(xlabel="mean |SHAP value|", title="Global importance")
    return fig


def shap_summary_figure(
    names: Sequence[str], shap_values: np.ndarray, feature_values: np.ndarray, top: int = 15
) -> Figure:
    """Beeswarm-style SHAP summary: one row per column, dots coloured by the column's value.

    Parameters
    ----------
    shap_values, feature_values
        Arrays of shape (n_rows, n_columns); feature values are scaled per column for colour.
    """
    plt = _plt()
    imp = np.abs(shap_values).mean(axis=0)
    order = np.argsort(imp)[::-1][:top][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(5.6, 0.35 * len(order) + 1.2))
    for row, j in enumerate(order):
        v = feature_values[:, j].astype(float)
        lo, hi = np.nanpercentile(v, 5), np.nanpercentile(v, 95)
        c = np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(v, 0.5)
        jitter = rng.uniform(-0.3, 0.3, len(v))
        sc = ax.scatter(shap_values[:, j], row + jitter, c=c, cmap="coolwarm", s=8, alpha=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.axvline(0, c="grey", lw=1)
    ax.set(xlabel="SHAP value (impact on model score)", title="SHAP summary")
    cb = fig.colorbar(sc, ax=ax, fraction=0.04)
    cb.set_label("feature value (low → high)")
    return fig


def km_figure(
    time: np.ndarray, event: np.ndarray, groups: np.ndarray, order: Sequence[str]
) -> Figure:
    """Kaplan-Meier curves for each risk group."""
    from medai.core.errors import require

    require("sksurv", "risk")
    from sksurv.nonparametric import kaplan_meier_estimator

    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    for g in order:
        m = groups == g
        if m.sum() < 2:
            continue
        t, s = kaplan_meier_estimator(event[m].astype(bool), time[m])
        ax.step(t, s, where="post", lw=2, label=f"{g} (n={int(m.sum())})")
    ax.set(xlabel="time", ylabel="survival probability", ylim=(0, 1.02), title="Kaplan-Meier")
    ax.legend(fontsize=8)
    return fig


def contribution_figure(
    names: Sequence[str], values: np.ndarray, base: float, score: float, top: int = 12
) -> Figure:
    """Waterfall-style bars of one prediction's per-column contributions (largest first)."""
    plt = _plt()
    order = np.argsort(-np.abs(values))[:top][::-1]
    fig, ax = plt.subplots(figsize=(5.6, 0.32 * len(order) + 1.3))
    colours = ["#c53030" if values[i] > 0 else "#2b6cb0" for i in order]
    ax.barh([names[i] for i in order], values[order], color=colours)
    ax.axvline(0, c="grey", lw=1)
    ax.set(
        xlabel="contribution to the score",
        title=f"base {base:+.2f} → score {score:+.2f}",
    )
    return fig


def confusion_figure(y: np.ndarray, pred: np.ndarray, classes: Sequence[str]) -> Figure:
    """Confusion matrix (rows = true class, columns = predicted) with counts."""
    plt = _plt()
    k = len(classes)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (np.asarray(y, dtype=int), np.asarray(pred, dtype=int)), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k + 2, 1.0 + 0.55 * k + 1.5))
    ax.imshow(cm, cmap="Blues")
    for i in range(k):
        for j in range(k):
            colour = "white" if cm[i, j] > cm.max() / 2 else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    return fig


def curves_figure(history: Sequence[Mapping[str, float]]) -> Figure:
    """Training loss and validation metric by epoch."""
    plt = _plt()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    ax.plot(epochs, [h["loss"] for h in history], "o-", label="training loss")
    ax.set(xlabel="epoch", ylabel="loss", title="Training")
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_auroc"] for h in history], "s-", c="#dd6b20", label="val AUROC")
    ax2.set_ylabel("validation AUROC")
    fig.legend(loc="lower center", fontsize=8, ncol=2)
    return fig
