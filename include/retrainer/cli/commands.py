"""The commands of the `retrainer` CLI, one function per command; heavy imports stay inside them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path

from retrainer.core.clock import run_key
from retrainer.core.params import load_params
from retrainer.core.settings import Settings


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
    from retrainer.core.models import choose_model, load_model

    settings = Settings.from_env()
    # The source is written before a suite exists for it (`suite scaffold` profiles it): not checked here.
    params = load_model(
        settings.project_dir,
        choose_model(settings.project_dir, args.model or settings.model),
        check_suite=False,
    )
    source = args.source or settings.model_source_root(params)
    kind = params["source"]["synthetic"]
    uris = generate(open_storage(source), start, end, seed=args.seed, config=generator, kind=kind)
    print(
        f"wrote {len(uris)} daily partitions ({start} .. {end}, {args.rows_per_day} rows/day) under {source}"
    )
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    """One stage of `dvc.yaml`, in the workspace DVC runs it in (the current directory)."""
    from retrainer.core.resources import measured

    params = load_params(args.params)
    with measured(f"stage {args.stage}"):  # its seconds and peak RSS, in its own process
        _run_stage(args.stage, params)
    return 0


def _run_stage(stage: str, params: dict) -> None:
    from retrainer.core import artifacts as a

    if stage == "featurize":
        from retrainer.features.stage import featurize
        from retrainer.training.window import window_bounds_of

        bounds = window_bounds_of(params, params["run"]["as_of"])
        suite = Path(a.FEATURES_SUITE)
        featurize(
            Path(a.BATCHES_DIR),
            Path(a.HISTORY_DIR),
            Path(a.FEATURES_DIR),
            params,
            *bounds,
            suite_path=suite if suite.exists() else None,
        )
    elif stage == "prepare":
        from retrainer.training.stages import prepare

        prepare(Path(a.BATCHES_DIR), Path(a.PREPARED_DIR), Path(a.PREPARE_REPORT), params)
    elif stage == "adapt":
        from retrainer.training.adapt import adapt

        adapt(Path(a.BATCHES_DIR), Path(a.PREPARED_DIR), Path(a.ADAPTATION_DIR), params)
    elif stage == "tune":
        from retrainer.training.tuning import tune

        tune(Path(a.PREPARED_DIR), Path(a.TUNING_REPORT), params)
    elif stage == "fit":
        from retrainer.training.stages import fit

        models, adaptation = Path(a.MODELS_DIR), Path(a.ADAPTATION_DIR)
        fit(Path(a.PREPARED_DIR), models, params, adaptation, Path(a.FIT_REPORT), Path(a.TUNING_REPORT))
    else:
        from retrainer.evaluation.holdout import measure

        measure(Path(a.PREPARED_DIR), Path(a.MODELS_DIR), Path(a.METRICS), Path(a.PR_CURVE), params)


def cmd_registry(args: argparse.Namespace) -> int:
    from retrainer.core.models import model_names
    from retrainer.tasks.context import Context

    settings = Settings.from_env()
    if args.action == "list" and not (args.model or settings.model):
        names = model_names(settings.project_dir)  # every model, each under its name
        if len(names) > 1:
            listed = {
                name: _rows(Context.load(model=name).registry, "list", None, args.json) for name in names
            }
            if args.json:
                _print(listed, True)
            for name, rows in {} if args.json else listed.items():
                print(f"{name}:")
                _print(rows or ["(no version yet)"], False)
            return 0
    return _registry(Context.load(model=args.model).registry, args)


def _registry(registry, args: argparse.Namespace) -> int:
    """One model's registry: list, show, audit or verify."""
    if args.action == "audit":
        import sys

        from retrainer.registry import chain

        events = registry.audit_log()
        _print(events if args.json else [_audit_line(e) for e in events], args.json)
        broken = chain.load(registry.storage, registry.model).problems
        for problem in broken:  # lines a broken chain hides must not vanish without a word
            print(f"retrainer: the audit chain of {registry.model} is broken: {problem}", file=sys.stderr)
        return 1 if broken else 0
    if args.action == "verify":
        state = _verify_state(registry)  # first: it names a record edited into something unreadable
        refs = [args.ref] if args.ref else [r["version"] for r in registry.versions()]
        return max(_verify(registry, refs), state)
    rows = _rows(registry, args.action, getattr(args, "ref", None), args.json)
    if args.action == "show":
        rows = rows[0]
    _print(rows, args.json)
    return 0


def _rows(registry, action: str, ref: str | None, as_json: bool) -> list:
    """Every version (list) or one (show): a line each, or the record with its aliases and verification."""
    by_version = registry.aliases_by_version()
    records = registry.versions() if action == "list" else [registry.get(ref)]
    rows = []
    for record in records:
        aliases = by_version.get(record["version"], [])
        problems = registry.verify(record["version"])
        if as_json:
            rows.append({**record, "aliases": aliases, "verified": not problems, "verify_problems": problems})
        else:
            rows.append(f"{_summary(record, aliases)} {_verdict(problems)}")
    return rows


def _verdict(problems: dict[str, str]) -> str:
    return "verified" if not problems else f"NOT VERIFIED ({', '.join(sorted(problems))})"


def _verify(registry, refs: list) -> int:
    """Check every file of the given versions against its sha256; 1 if any file does not verify."""
    import sys

    failed = 0
    for ref in refs:
        record = registry.get(ref)
        problems = registry.verify(record["version"])
        print(f"v{record['version']}: {len(record['files'])} files {_verdict(problems)}")
        for name, problem in problems.items():
            key = record["files"][name]["key"]
            print(
                f"retrainer: v{record['version']} file {name!r} ({key}) does not verify: {problem}",
                file=sys.stderr,
            )
        failed += bool(problems)
    return 1 if failed else 0


def _verify_state(registry) -> int:
    """Check the audit chain, every version record, alias and the deployment record against it; 1 on any
    problem, each naming the file (see `registry.integrity`)."""
    import sys

    from retrainer.registry import integrity

    report = integrity.check(registry)
    for note in report.notes:
        print(f"{registry.model}: {note}")
    for problem in report.problems:
        print(f"retrainer: {registry.model}: {problem}", file=sys.stderr)
    verdict = "verified" if report.ok else f"NOT VERIFIED ({len(report.problems)} problem(s))"
    print(f"{registry.model}: audit chain, version records, aliases and deployment record {verdict}")
    return 0 if report.ok else 1


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
    """A run key (2026-11-16T000000Z) as given, or the run key of the week ending on a date (2026-11-16)."""
    import re

    return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", text) else run_key(text)


def cmd_quarantine(args: argparse.Namespace) -> int:
    from retrainer.data import quarantine
    from retrainer.tasks.context import Context

    ctx = Context.load(model=args.model)
    storage, model = ctx.storage, ctx.model
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
            from retrainer.data.contracts import Failure

            print(f"run {reason['run_key']} ({reason['stage']}): {reason['quarantine_uri']}")
            for failure in reason["failures"]:
                print(f"  - {Failure(**failure).describe()}")
            if reason.get("data_docs_uri"):
                print(f"Data Docs: {reason['data_docs_uri']}")
            if reason.get("data_docs_url"):
                print(f"Data Docs in the Airflow UI: {reason['data_docs_url']}")
    elif args.action == "events":
        _print(quarantine.events(storage, model), True)
    else:
        from retrainer.data.release import release

        event = release(
            storage,
            ctx.source,
            model,
            _run_key(args.run),
            ctx.settings.suite_path(ctx.params),
            ctx.params["validation"],
            why=args.reason,
            who=args.by,
        )
        _print(event, True)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    import getpass

    from retrainer.deployment.actions import run_action
    from retrainer.deployment.state import NoChampion, settle
    from retrainer.registry.store import Registry
    from retrainer.tasks.context import Context

    ctx = Context.load(model=args.model)
    registry = Registry(ctx.storage, ctx.model)
    if args.action == "status":
        state, finished = settle(registry)  # a move a crash interrupted is finished first, and said so
        if state is None:
            raise NoChampion(f"{registry.model} has no champion: nothing is deployed")
        if finished:
            print(
                f"finished the interrupted move r{finished['revision']} {finished['event']} by "
                f"{finished['actor']}: its audit event and the champion aliases now follow the record",
                file=sys.stderr,
            )
        if args.json:
            _print(state, True)
            return 0
        challenger = f" challenger v{state['challenger']}" if state.get("challenger") else ""
        share = f" at {state['share']}%" if state["mode"] == "canary" else ""
        print(
            f"{registry.model}: {state['mode']} mode, champion v{state['champion']}{challenger}{share} "
            f"since {state['since'] or '-'} (revision {state['revision']}, set by {state['set_by']})"
        )
        if state.get("previous_champion"):
            print(
                f"previous champion: v{state['previous_champion']} (`retrainer deploy rollback` restores it)"
            )
        for step in state.get("history", [])[-5:]:
            print(f"  r{step['revision']} {step['at']} {step['event']} by {step['actor']}: {step['reason']}")
        print(f"decide on this state: `retrainer deploy ... --expect-revision {state['revision']}`")
        return 0
    state = run_action(
        registry,
        args.action,
        getattr(args, "version", None),
        args.by or getpass.getuser(),
        args.reason,
        ctx.params,
        args.expect_revision,
    )
    _print({k: state[k] for k in ("mode", "champion", "challenger", "share", "revision")}, False)
    return 0


def cmd_task(args: argparse.Namespace) -> int:
    from retrainer.core.clock import as_utc
    from retrainer.tasks import retrain as tasks

    dag_params = json.loads(args.params_json) if args.params_json else None
    model = args.model
    # A run by hand: --interval-start .. --as-of when both are given; --as-of alone is a logical date, the
    # model's last complete interval at or before it (its schedule's, like a run from the Trigger form).
    end = as_utc(args.as_of) if args.as_of else None
    run = tasks.Run(as_utc(args.interval_start), end) if args.interval_start else tasks.Run(logical_date=end)
    if args.task == "extract":
        result = tasks.extract(run, dag_params, model)
    elif args.task == "validate":
        result = tasks.validate(args.uri, dag_params, model)
    elif args.task == "check_labels":
        result = tasks.check_labels(run, dag_params, model)
    elif args.task == "train":
        result = tasks.train(run, dag_params, model)
    elif args.task == "evaluate":
        result = tasks.evaluate(args.uri, dag_params, model)
    else:
        result = tasks.register(args.uri, args.gates_uri, None, dag_params, model=model)
    _print(result, True)
    return 0
