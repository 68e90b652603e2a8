"""`retrainer`: the command line over the package, used by people, by `dvc.yaml` stages and by tests."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from retrainer.cli.commands import cmd_deploy, cmd_generate, cmd_quarantine, cmd_registry, cmd_stage, cmd_task
from retrainer.cli.models import cmd_models, cmd_suite

MODEL_HELP = "the model (a folder models/NAME/); default: RETRAINER_MODEL, or the only model configured"


def _date(text: str) -> date:
    return date.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    model = argparse.ArgumentParser(add_help=False)  # every command that works on a model takes --model
    model.add_argument("--model", help=MODEL_HELP)

    gen = sub.add_parser(
        "generate",
        parents=[model],
        help="write the model's synthetic source (source.synthetic: card transactions, account logins or raw "
        "card transactions), "
        "one Parquet file per day, under its source.prefix",
    )
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
        "--broken",
        help="break the --broken-day partitions this way (retrainer.synthetic.BROKEN_KINDS, or LABEL_KINDS: "
        "label_shuffle keeps the contract and loses the labels' signal, or MEANING_KINDS: swapped_pair, "
        "unit_x24, amount_x100 keep the shape and change the meaning)",
    )
    gen.add_argument("--broken-day", type=_date, action="append", default=[])
    gen.set_defaults(func=cmd_generate)

    stage = sub.add_parser("stage", help="run one DVC stage in the current directory (called by dvc.yaml)")
    stage.add_argument("stage", choices=["featurize", "prepare", "adapt", "tune", "fit", "measure"])
    stage.add_argument("--params", default="params.yaml")
    stage.set_defaults(func=cmd_stage)

    reg = sub.add_parser("registry", help="look at the model registry")
    reg_sub = reg.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "every version (without --model: of every model)"),
        ("audit", "the audit log"),
    ):
        p = reg_sub.add_parser(action, parents=[model], help=text)
        p.add_argument("--json", action="store_true")
    show = reg_sub.add_parser(
        "show", parents=[model], help="one version, by number or alias (champion, challenger)"
    )
    show.add_argument("ref")
    show.add_argument("--json", action="store_true")
    verify = reg_sub.add_parser(
        "verify",
        parents=[model],
        help="check every file of a version (default: of every version) against its sha256, and the audit "
        "chain, every version record, alias and the deployment record against the chain",
    )
    verify.add_argument("ref", nargs="?", help="version number or alias (default: every version)")
    reg.set_defaults(func=cmd_registry)

    qua = sub.add_parser("quarantine", help="look at rejected batches, and release one after a fix")
    qua_sub = qua.add_subparsers(dest="action", required=True)
    q_list = qua_sub.add_parser(
        "list", parents=[model], help="every quarantined run, with the expectations it broke"
    )
    q_list.add_argument("--json", action="store_true")
    q_show = qua_sub.add_parser(
        "show", parents=[model], help="the reason.json of one run (run key or logical date)"
    )
    q_show.add_argument("run")
    q_show.add_argument("--json", action="store_true")
    qua_sub.add_parser("events", parents=[model], help="who quarantined and released what, when and why")
    q_release = qua_sub.add_parser(
        "release",
        parents=[model],
        help="validate a fixed batch again and move it back to batches/ (refused if it still fails)",
    )
    q_release.add_argument("run")
    q_release.add_argument("--reason", required=True, help="what was fixed, for the event log")
    q_release.add_argument("--by", help="who releases (default: the current user)")
    qua.set_defaults(func=cmd_quarantine)

    dep = sub.add_parser("deploy", help="the deployment: status, and moves by hand (each one audited)")
    dep_sub = dep.add_subparsers(dest="action", required=True)
    status = dep_sub.add_parser(
        "status",
        parents=[model],
        help="mode, champion, challenger, share, since, the revision to decide on, last moves; finishes a "
        "move a crash interrupted (its audit event, the champion aliases) and says so",
    )
    status.add_argument("--json", action="store_true")
    for action, text in (
        ("rollback", "drop the shadow/canary challenger, or bring the previous champion back"),
        ("promote", "make VERSION champion at once (blue-green)"),
        ("shadow", "score VERSION beside the champion, deciding nothing"),
        ("canary", "let VERSION decide the first ramp step's share of customers"),
        ("ramp", "move the canary to its next step now (past the last: champion)"),
    ):
        p = dep_sub.add_parser(action, parents=[model], help=text)
        if action in ("promote", "shadow", "canary"):
            p.add_argument("version", type=int)
        p.add_argument("--reason", required=True, help="why, for the audit log")
        p.add_argument("--by", help="who (default: the current user)")
        p.add_argument(
            "--expect-revision",
            type=int,
            metavar="N",
            help="the deployment revision you decided on (`deploy status` shows it): if the deployment "
            "moved since, the move is refused with DeploymentMoved, changing nothing. Without it the move "
            "applies to the deployment as it is when read, whatever moved since you looked",
        )
    dep.set_defaults(func=cmd_deploy)

    task = sub.add_parser(
        "task", parents=[model], help="run one step of the retraining DAG by hand, outside Airflow"
    )
    task.add_argument(
        "task", choices=["extract", "validate", "check_labels", "train", "evaluate", "register"]
    )
    task.add_argument(
        "--as-of",
        help="the run's logical date: it covers the model's last complete interval (schedule.cron) at or "
        "before it, e.g. 2026-11-16 (extract, check_labels, train)",
    )
    task.add_argument(
        "--interval-start", help="start of the run's data interval, which then ends at --as-of exactly"
    )
    task.add_argument("--uri", help="upstream manifest URI (validate, evaluate, register)")
    task.add_argument("--gates-uri", help="gate report URI (register)")
    task.add_argument("--params-json", help="DAG params as JSON, e.g. '{\"min_pr_auc\": 0.3}'")
    task.set_defaults(func=cmd_task)

    models = sub.add_parser("models", help="the configured models (folders of models/)")
    models_sub = models.add_subparsers(dest="action", required=True)
    models_sub.add_parser("list", help="every model: its DAGs, schedule, suite and source")
    models_sub.add_parser(
        "check",
        help="check every model's params against the schema and its suite, and say where its alerts go "
        "(exit 1 naming each problem, or an alert connection Airflow cannot resolve)",
    )
    shown = models_sub.add_parser("show", parents=[model], help="a model's params, defaults merged in (YAML)")
    shown.set_defaults(action="show")
    models.set_defaults(func=cmd_models)

    suite = sub.add_parser("suite", help="the model's expectation suite (its data contract)")
    suite_sub = suite.add_subparsers(dest="action", required=True)
    scaffold = suite_sub.add_parser(
        "scaffold",
        parents=[model],
        help="profile a clean batch and add expectations for every column the params name that the suite "
        "lacks (or, for a new suite, for every column), for review",
    )
    scaffold.add_argument(
        "--as-of", required=True, help="the end of the clean week to profile, e.g. 2026-11-16"
    )
    scaffold.add_argument("--days", type=int, default=7, help="days of source before --as-of (default 7)")
    refresh = suite_sub.add_parser(
        "refresh",
        parents=[model],
        help="learn each column's usual distribution from the model's last validated batches and rewrite the "
        "suite's learnt expectations (the others stay), for review",
    )
    refresh.add_argument(
        "--weeks",
        type=int,
        default=8,
        help="how many of the last validated batches to learn from (default 8)",
    )
    suite.set_defaults(func=cmd_suite)
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
