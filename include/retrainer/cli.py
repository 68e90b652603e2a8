"""`retrainer`: the command line over the package, used by people, by `dvc.yaml` stages and by tests."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from retrainer import config


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _print(payload, as_json: bool) -> None:
    if as_json:
        print(json.dumps(payload, indent=2, default=str))
    elif isinstance(payload, dict):
        for key, value in payload.items():
            print(f"{key}: {value}")
    else:
        for row in payload if isinstance(payload, list) else [payload]:
            print(row)


def cmd_generate(args: argparse.Namespace) -> int:
    from retrainer.storage import open_storage
    from retrainer.synthetic import GeneratorConfig, generate

    end = args.end or date.today()
    start = args.start or end - timedelta(days=args.days - 1)
    generator = GeneratorConfig(
        rows_per_day=args.rows_per_day,
        fraud_rate=args.fraud_rate,
        data_drift=args.data_drift,
        concept_drift=args.concept_drift,
        concept_drift_regions=tuple(args.concept_drift_region),
        drift_start=args.drift_start,
        label_noise=args.label_noise,
        broken=args.broken,
        broken_days=tuple(args.broken_day),
    )
    source = args.source or config.Settings.from_env().source_root
    uris = generate(open_storage(source), start, end, seed=args.seed, config=generator)
    print(
        f"wrote {len(uris)} daily partitions ({start} .. {end}, {args.rows_per_day} rows/day) under {source}"
    )
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from retrainer import stages

    params = config.load_params(args.params)
    if args.stage == "prepare":
        stages.prepare(Path("data/batches"), Path("data/prepared"), Path("reports/prepare.json"), params)
    elif args.stage == "train":
        stages.train(Path("data/prepared"), Path("models"), params)
    else:
        stages.evaluate(
            Path("data/prepared"),
            Path("models"),
            Path("reports/metrics.json"),
            Path("reports/pr_curve.csv"),
            params,
        )
    return 0


def cmd_registry(args: argparse.Namespace) -> int:
    from retrainer.tasks import Context

    registry = Context.load().registry
    if args.action == "audit":
        events = registry.audit_log()
        _print(events if args.json else [_audit_line(e) for e in events], args.json)
        return 0
    by_version = registry.aliases_by_version()
    records = registry.versions() if args.action == "list" else [registry.get(args.ref)]
    rows = []
    for record in records:
        aliases = by_version.get(record["version"], [])
        rows.append({**record, "aliases": aliases} if args.json else _summary(record, aliases))
    if args.action == "show":
        rows = rows[0]
    _print(rows, args.json)
    return 0


def _audit_line(event: dict) -> str:
    alias = f" {event['alias']} ->" if event.get("alias") else ""
    reason = f": {event['reason']}" if event.get("reason") else ""
    return f"{event['at']} {event['event']}{alias} v{event.get('version')} by {event.get('actor')}{reason}"


def _summary(record: dict, aliases: list[str]) -> str:
    metrics = record["metrics"]["challenger"]
    return (
        f"v{record['version']} {','.join(aliases) or '-':<20} as_of={record['as_of']} "
        f"pr_auc={metrics['pr_auc']:.4f} recall@fpr={metrics['recall_at_fpr']:.4f} data={record['data_hash']}"
    )


def _run_key(text: str) -> str:
    """A run key (2026-11-16T000000Z) as given, or the run key of a logical date (2026-11-16)."""
    import re

    return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", text) else config.run_key(text)


def cmd_quarantine(args: argparse.Namespace) -> int:
    from retrainer import quarantine
    from retrainer.storage import open_storage

    settings = config.Settings.from_env()
    params = config.load_params(settings.params_path)
    storage, model = open_storage(settings.storage_root), params["model"]["name"]
    if args.action == "list":
        entries = quarantine.list_quarantined(storage, model)
        if args.json:
            _print(entries, True)
        for entry in [] if args.json else entries:
            print(
                f"{entry['run_key']}  {entry['stage']:<8} rows={entry['rows']}  "
                f"{entry['failures']} failure(s): {', '.join(entry['expectations'])}"
            )
    elif args.action == "show":
        reason = quarantine.reason(storage, model, _run_key(args.run))
        if args.json:
            _print(reason, True)
        else:
            from retrainer.quarantine import Failure

            print(f"run {reason['run_key']} ({reason['stage']}): {reason['quarantine_uri']}")
            for failure in reason["failures"]:
                print(f"  - {Failure(**failure).describe()}")
            if reason.get("data_docs_uri"):
                print(f"Data Docs: {reason['data_docs_uri']}")
    elif args.action == "events":
        _print(quarantine.events(storage, model), True)
    else:
        event = quarantine.release(
            storage,
            open_storage(settings.source_root),
            model,
            _run_key(args.run),
            settings.expectations_dir / f"{params['data']['suite']}.json",
            params["validation"],
            why=args.reason,
            who=args.by,
        )
        _print(event, True)
    return 0


def cmd_task(args: argparse.Namespace) -> int:
    from retrainer import tasks

    dag_params = json.loads(args.params_json) if args.params_json else None
    if args.task == "extract":
        result = tasks.extract(args.as_of, dag_params)
    elif args.task == "validate":
        result = tasks.validate(args.uri, dag_params)
    elif args.task == "train":
        result = tasks.train(args.as_of, dag_params)
    elif args.task == "evaluate":
        result = tasks.evaluate(args.uri, dag_params)
    else:
        result = tasks.register(args.uri, args.gates_uri, None, dag_params)
    _print(result, True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic card transactions, one Parquet file per day")
    gen.add_argument("--source", help="source root (default: RETRAINER_SOURCE_ROOT or var/source)")
    gen.add_argument("--start", type=_date, help="first day (default: --days before --end)")
    gen.add_argument("--end", type=_date, help="last day, inclusive (default: today)")
    gen.add_argument("--days", type=int, default=84, help="how many days when --start is not given")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--rows-per-day", type=int, default=2000)
    gen.add_argument("--fraud-rate", type=float, default=0.01)
    gen.add_argument("--data-drift", type=float, default=0.0, help="feature shift from --drift-start (0..1)")
    gen.add_argument("--concept-drift", type=float, default=0.0, help="weight of a new fraud pattern (0..1)")
    gen.add_argument(
        "--concept-drift-region", action="append", default=[], help="limit concept drift to a region"
    )
    gen.add_argument("--drift-start", type=_date, help="first day of data and concept drift")
    gen.add_argument("--label-noise", type=float, default=0.0, help="share of labels flipped")
    gen.add_argument(
        "--broken", help="break the --broken-day partitions this way (see synthetic.BROKEN_KINDS)"
    )
    gen.add_argument("--broken-day", type=_date, action="append", default=[])
    gen.set_defaults(func=cmd_generate)

    stage = sub.add_parser("stage", help="run one DVC stage in the current directory (called by dvc.yaml)")
    stage.add_argument("stage", choices=["prepare", "train", "evaluate"])
    stage.add_argument("--params", default="params.yaml")
    stage.set_defaults(func=cmd_stage)

    reg = sub.add_parser("registry", help="look at the model registry")
    reg_sub = reg.add_subparsers(dest="action", required=True)
    for action, text in (("list", "every version"), ("audit", "the audit log")):
        p = reg_sub.add_parser(action, help=text)
        p.add_argument("--json", action="store_true")
    show = reg_sub.add_parser("show", help="one version, by number or alias (champion, challenger)")
    show.add_argument("ref")
    show.add_argument("--json", action="store_true")
    reg.set_defaults(func=cmd_registry)

    qua = sub.add_parser("quarantine", help="look at rejected batches, and release one after a fix")
    qua_sub = qua.add_subparsers(dest="action", required=True)
    q_list = qua_sub.add_parser("list", help="every quarantined run, with the expectations it broke")
    q_list.add_argument("--json", action="store_true")
    q_show = qua_sub.add_parser("show", help="the reason.json of one run (run key or logical date)")
    q_show.add_argument("run")
    q_show.add_argument("--json", action="store_true")
    qua_sub.add_parser("events", help="who quarantined and released what, when and why")
    q_release = qua_sub.add_parser(
        "release",
        help="validate a fixed batch again and move it back to batches/ (refused if it still fails)",
    )
    q_release.add_argument("run")
    q_release.add_argument("--reason", required=True, help="what was fixed, for the event log")
    q_release.add_argument("--by", help="who releases (default: the current user)")
    qua.set_defaults(func=cmd_quarantine)

    task = sub.add_parser("task", help="run one step of the retraining DAG by hand, outside Airflow")
    task.add_argument("task", choices=["extract", "validate", "train", "evaluate", "register"])
    task.add_argument("--as-of", help="logical date (extract, train)")
    task.add_argument("--uri", help="upstream manifest URI (validate, evaluate, register)")
    task.add_argument("--gates-uri", help="gate report URI (register)")
    task.add_argument("--params-json", help="DAG params as JSON, e.g. '{\"min_pr_auc\": 0.3}'")
    task.set_defaults(func=cmd_task)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as error:  # name the error in one line; RETRAINER_DEBUG=1 shows the traceback
        if os.environ.get("RETRAINER_DEBUG"):
            raise
        print(f"retrainer: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
