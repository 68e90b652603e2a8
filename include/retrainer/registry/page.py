"""A read-only HTML page of the model registry: versions, aliases, lineage and the audit log.

Served by the Airflow plugin in `plugins/`. Plugin endpoints are not behind Airflow's auth, so the page
only reads; aliases move through the DAGs and the CLI, never through it.
"""

from __future__ import annotations

from html import escape

from retrainer.registry.store import Registry

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2937; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .4rem .8rem; text-align: left; font-size: .9rem; }
th { background: #f3f4f6; } code { font-size: .8rem; } .alias { background: #dbeafe; padding: 0 .4rem; }
"""


def _metric(record: dict, name: str) -> str:
    value = (record.get("metrics") or {}).get("challenger", {}).get(name)
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _row(*cells: str, raw: tuple[int, ...] = ()) -> str:
    """A table row; every cell is escaped except the positions in `raw` (markup built here)."""
    return (
        "<tr>"
        + "".join(f"<td>{c if i in raw else escape(str(c))}</td>" for i, c in enumerate(cells))
        + "</tr>"
    )


def render(registry: Registry) -> str:
    by_version = registry.aliases_by_version()
    rows = []
    for record in reversed(registry.versions()):
        names = " ".join(
            f'<span class="alias">{escape(a)}</span>' for a in by_version.get(record["version"], [])
        )
        rows.append(
            _row(
                f"v{record['version']}",
                names,
                record.get("as_of", "-"),
                _metric(record, "pr_auc"),
                _metric(record, "recall_at_fpr"),
                record.get("data_hash", "-"),
                ((record.get("git") or {}).get("commit") or "-")[:12],
                record.get("airflow_run_id") or "-",
                raw=(1,),
            )
        )
    audit = [
        _row(
            e["at"],
            e["event"],
            e.get("alias") or "",
            f"v{e.get('version')}",
            e.get("actor") or "",
            e.get("reason") or "",
        )
        for e in reversed(registry.audit_log())
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Registry: {escape(registry.model)}</title>"
        f"<style>{STYLE}</style></head><body><h1>Model registry: {escape(registry.model)}</h1>"
        "<table><tr><th>version</th><th>aliases</th><th>as of</th><th>PR-AUC</th><th>recall@FPR</th>"
        f"<th>data hash</th><th>git</th><th>Airflow run</th></tr>{''.join(rows)}</table>"
        "<h2>Audit log</h2><table><tr><th>at</th><th>event</th><th>alias</th><th>version</th><th>by</th>"
        f"<th>why</th></tr>{''.join(audit)}</table></body></html>"
    )
