"""The `retrainer models` and `retrainer suite` commands: the configured models, their check, and a suite
scaffolded from a clean batch."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from datetime import timedelta

from retrainer.core.alerts import alert_route
from retrainer.core.models import check_models, features_suite_file, load_model
from retrainer.core.settings import Settings


def cmd_models(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.action == "show":
        from retrainer.core.models import choose_model
        from retrainer.core.origins import show_model

        name = choose_model(settings.project_dir, args.model or settings.model)
        print(show_model(settings.project_dir, name), end="")  # values from the defaults marked
        return 0
    # Each model on its own, one line each: a broken one (no DAGs until fixed) does not hide the others.
    healthy, broken = check_models(settings.project_dir)
    undeliverable, resolve = set(), None
    for name in sorted({*healthy, *broken}):
        if name in broken:
            print(f"{name}: BROKEN, no DAGs until fixed: {'; '.join(broken[name])}")
        elif args.action == "list":
            params = healthy[name]
            schedule, source = params["schedule"], settings.model_source_root(params)
            features = features_suite_file(settings.project_dir, params)
            contract = f" and expectations/{features.name} (derived features)" if features else ""
            print(
                f"{name}: DAGs retrain_{name} (cron {schedule['cron']} {schedule['timezone']}), "
                f"monitor_{name}, score_{name}, deploy_{name}; "
                f"suite expectations/{params['data']['suite']}.json{contract}; source {source}"
            )
        else:
            resolve = resolve or _connection_resolver()
            deliverable, route = alert_route(healthy[name], resolve)
            if not deliverable:
                undeliverable.add(name)
            print(f"{name}: {'ok' if deliverable else 'REFUSED'}; {route}")
    return 1 if broken or undeliverable else 0


def _connection_resolver() -> Callable[[str], str]:
    """Where a connection id points, as Airflow resolves it (environment, secrets backend, metadata DB),
    each id asked once per check. From the Airflow side of the package (`retrainer_airflow`), imported
    here only when a check asks: the domain never imports Airflow."""
    from retrainer_airflow.connections import describe_connection

    return functools.cache(describe_connection)


def cmd_suite(args: argparse.Namespace) -> int:
    """`suite scaffold`: profile the model's source over the days before --as-of and add expectations;
    `suite refresh`: learn the suite's distribution expectations from the last validated batches."""
    if args.action == "refresh":
        return _refresh(args)
    from retrainer.core.clock import as_utc
    from retrainer.core.models import choose_model, suite_file
    from retrainer.data.extract import read_window
    from retrainer.data.scaffold import scaffold_features_suite, scaffold_suite
    from retrainer.storage import open_storage

    settings = Settings.from_env()
    name = choose_model(settings.project_dir, args.model or settings.model)
    # The suite may lack the new columns: that is what scaffolding is for, so it is not checked here.
    params = load_model(settings.project_dir, name, check_suite=False)
    end = as_utc(args.as_of)
    source = open_storage(settings.model_source_root(params), params["timeouts"]["storage"])
    frame, _, missing = read_window(
        source, end - timedelta(days=args.days), end, params["model"]["event_time"], "warn"
    )
    if frame.empty:
        raise ValueError(f"no rows of {name} under {source.root_uri} in the {args.days} days before {end}")
    result = scaffold_suite(suite_file(settings.project_dir, params), frame, params)
    result["missing_days"] = [d.isoformat() for d in missing]
    suites = [result["suite"]]
    if (features_path := features_suite_file(settings.project_dir, params)) is not None:
        from retrainer.features.events import features_of_rows

        # The week's derived features as training and scoring compute them: over the week and the source
        # history before it, so its first days see full windows.
        derived = features_of_rows(frame, source, params, end - timedelta(days=args.days))
        result["features"] = scaffold_features_suite(features_path, derived, params)
        suites.append(result["features"]["suite"])
    print(json.dumps(result, indent=2))
    print(
        f"review the diff of {' and '.join(suites)} (git diff), then: retrainer models check",
        file=sys.stderr,
    )
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from retrainer.data.learnt import learn_from_history
    from retrainer.tasks.context import Context

    ctx = Context.load(model=args.model)
    suite = ctx.settings.suite_path(ctx.params)
    result = learn_from_history(ctx.storage, ctx.params, suite, args.weeks)
    print(json.dumps(result, indent=2))
    print(f"review the diff of {suite} (git diff), then: retrainer models check", file=sys.stderr)
    return 0
