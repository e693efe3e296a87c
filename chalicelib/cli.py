"""The `remediate` command for operators: the same pipeline the Lambda runs.

Exit codes: 0 success (every outcome but `failed`), 1 `failed`, 2 bad input (event or
policy files), 3 refused (unknown id, not an approver, expired, already decided, rollback
conflict).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from chalicelib.errors import (
    AutoremediateError,
    ConfigurationError,
    InvalidEvent,
    PolicyError,
    Refused,
)

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_REFUSED = 0, 1, 2, 3


def _die(message: str, code: int) -> NoReturn:
    print(f"remediate: {message}", file=sys.stderr)
    raise SystemExit(code)


def _emit(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _context() -> Any:
    from chalicelib.context import current

    try:
        return current()
    except ConfigurationError as exc:
        _die(str(exc), EXIT_INPUT)


def _read_event(source: str) -> dict[str, Any]:
    from chalicelib.finding import parse

    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        _die(f"cannot read {source}: {exc.strerror or exc}", EXIT_INPUT)
    return parse(data)


def cmd_handle(args: argparse.Namespace) -> int:
    from chalicelib.finding import normalize
    from chalicelib.outcome import Outcome, report
    from chalicelib.pipeline import handle

    event = _read_event(args.event)
    normalize(event)  # a malformed event exits 2 before anything touches AWS
    ctx = _context()
    ctx.policies  # noqa: B018 - load (and validate) policies before touching AWS
    try:
        ctx.store.ensure_table()
        results = handle(event, ctx, dry_run=args.dry_run)
    except InvalidEvent:
        raise
    except AutoremediateError as exc:
        # stdout keeps its one JSON object; the reason also goes to stderr, in one line
        _emit({"event_id": event.get("id"), "outcome": Outcome.FAILED, "reason": str(exc)})
        print(f"remediate: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    _emit(report(results[0].event_id, results))
    return EXIT_FAILED if any(r.outcome is Outcome.FAILED for r in results) else EXIT_OK


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """The state table for local and dev use (a deployment gets it from the central
    stack): as the stack makes it, encrypted with `--kms-key` (else AWS's aws/dynamodb)."""
    ctx = _context()
    created = ctx.store.ensure_table(kms_key=args.kms_key)
    _emit({"table": ctx.settings.table, "created": created})
    return EXIT_OK


def _decide(args: argparse.Namespace, approve: bool) -> int:
    from chalicelib.approval import decide, decide_held
    from chalicelib.outcome import Outcome

    if args.held == bool(args.approval_id):
        _die("give either APPROVAL_ID or --held --policy NAME --account ID", EXIT_INPUT)
    ctx = _context()
    if args.held:
        if not (args.policy and args.account):
            _die("--held needs --policy NAME and --account ID", EXIT_INPUT)
        results = decide_held(ctx, args.as_user, approve=approve, policy=args.policy,
                              account=args.account)
        for result in results:  # one JSON object per fix, one per line
            print(json.dumps(result.to_json(), default=str))
        return EXIT_FAILED if any(r.outcome is Outcome.FAILED for r in results) else EXIT_OK
    result = decide(ctx, args.approval_id, args.as_user, approve=approve)
    _emit(result.to_json())
    return EXIT_FAILED if result.outcome is Outcome.FAILED else EXIT_OK


def cmd_approvals(args: argparse.Namespace) -> int:
    from chalicelib.approval import pending

    ctx = _context()
    _emit([{**a.model_dump(mode="json", include={
                "approval_id", "policy", "remediation", "resource", "account", "incident_id",
                "approvers", "group_id", "held"}),
            "created_at": a.created_at.isoformat(), "expires_at": a.expires_at.isoformat()}
           for a in pending(ctx)])
    return EXIT_OK


def cmd_timeline(args: argparse.Namespace) -> int:
    from chalicelib.timeline import rendered

    _write_or_print(rendered(_context(), args.incident_id, args.format), args.output)
    return EXIT_OK


def _since(text: str | None) -> Any:
    import datetime as dt

    if not text:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        _die(f"--since {text!r} is not a date (YYYY-MM-DD or ISO 8601)", EXIT_INPUT)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _write_or_print(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n",
                                encoding="utf-8")
    else:
        print(text.rstrip("\n"))


def cmd_incidents(args: argparse.Namespace) -> int:
    from chalicelib.render import duration

    ctx = _context()
    since = _since(args.since)
    found = [i for i in ctx.store.incidents()
             if i.created_at >= since and (not args.status or i.status.value == args.status)
             and i.drill == args.drills]
    if args.format == "json":
        _emit([{"incident_id": i.incident_id, "status": i.status.value,
                "resource": i.resource, "policy": i.policy, "remediation": i.remediation,
                "account": i.account, "region": i.region, "controls": i.controls,
                "opened": i.created_at.isoformat(),
                "resolved": i.resolved_at.isoformat() if i.resolved_at else None}
               for i in found])
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(found)} incidents, newest first")
    table.add_column("incident", no_wrap=True)
    for col in ("status", "opened", "resource", "remediation", "TTR"):
        table.add_column(col, overflow="fold")
    for i in found:
        ttr = i.time_to_remediate
        table.add_row(i.incident_id, i.status.value, f"{i.created_at:%Y-%m-%d %H:%M}",
                      i.resource, i.remediation, duration(ttr) if ttr else "-")
    Console().print(table)
    return EXIT_OK


def cmd_evidence(args: argparse.Namespace) -> int:
    import getpass
    import hashlib

    from chalicelib import evidence, integrity

    ctx = _context()
    if args.verify_records:
        verdict = integrity.verify(ctx, _since(args.since) if args.since else None)
        print("\n".join(verdict.problems) if verdict.problems else verdict.summary())
        return EXIT_OK if verdict.ok else EXIT_FAILED
    if args.digest:
        _emit(integrity.write_digest(ctx))
        return EXIT_OK
    if args.verify:
        try:
            data = Path(args.verify).read_bytes()
        except OSError as exc:
            _die(f"cannot read {args.verify}: {exc.strerror or exc}", EXIT_INPUT)
        digest = hashlib.sha256(data).hexdigest()
        known = ctx.store.report(digest)
        if known is None:
            print(f"remediate: {args.verify} (sha256 {digest}) is not a report generated here, "
                  "or it was changed", file=sys.stderr)
            return EXIT_FAILED
        print(f"{args.verify}: unchanged {known['format']} report generated "
              f"{known['generated_at']} (since {known['since']}), sha256 {digest}")
        return EXIT_OK
    if not args.since:
        _die("evidence needs --since DATE (or --verify FILE, --verify-records, --digest)",
             EXIT_INPUT)
    if args.format == "pdf" and not args.output:
        _die("--format pdf needs -o FILE", EXIT_INPUT)
    data = evidence.generate(ctx, since=_since(args.since), fmt=args.format,
                             snapshot=args.snapshot, accounts=_csv_arg(args.accounts),
                             regions=_csv_arg(args.regions),
                             generated_by=args.as_user or f"cli:{getpass.getuser()}")
    digest = hashlib.sha256(data).hexdigest()  # exactly the bytes written
    ctx.store.put_report(digest, since=_since(args.since).isoformat(), fmt=args.format)
    if args.output:
        integrity.save_signed(ctx, data, args.output)  # and FILE.sig with a signing key
    else:
        sys.stdout.write(data.decode("utf-8"))
    print(f"sha256 {digest}", file=sys.stderr)
    return EXIT_OK


def _csv_arg(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def cmd_rollback(args: argparse.Namespace) -> int:
    import getpass

    from chalicelib.rollback import rollback

    ctx = _context()
    actor = args.as_user or f"cli:{getpass.getuser()}"
    _emit(rollback(ctx, args.incident_id, actor=actor, force=args.force))
    return EXIT_OK


def cmd_drill(args: argparse.Namespace) -> int:
    from chalicelib.drill import run
    from chalicelib.render import drill_html, drill_md

    ctx = _context()
    ctx.store.ensure_table()
    report = run(ctx, only=args.scenario)
    if args.format == "json":
        _emit(report)
    else:
        print((drill_md if args.format == "md" else drill_html)(report).rstrip("\n"))
    return EXIT_OK if report["ok"] else EXIT_FAILED


def cmd_assess(args: argparse.Namespace) -> int:
    from chalicelib.assess import assess

    _emit(assess(_context(), args.incident_id, breach=args.breach == "yes", reason=args.reason,
                 user=args.as_user))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from chalicelib.config import default_policy_dir
    from chalicelib.policy import load_policies

    directory = Path(args.dir) if args.dir else default_policy_dir()
    policies = load_policies(directory, validated=False)  # check the YAML itself
    for p in policies:
        print(f"ok  {p.name:<28} {p.remediation:<24} {p.mode.value:<8} {p.file}:{p.line}")
    print(f"{len(policies)} policies valid in {directory}")
    return EXIT_OK


def cmd_redrive(args: argparse.Namespace) -> int:
    from chalicelib.redrive import redrive

    ctx = _context()
    ctx.policies  # noqa: B018 - load (and validate) policies before touching AWS
    handled = deleted = 0
    for result in redrive(ctx, args.queue_url):  # one JSON object per message, per line
        print(json.dumps(result.to_json(), default=str), flush=True)
        handled += 1
        deleted += result.deleted
    print(f"remediate: {handled} message(s) handled, {deleted} deleted, "
          f"{handled - deleted} left in the queue", file=sys.stderr)
    return EXIT_FAILED if deleted < handled else EXIT_OK


def cmd_package(args: argparse.Namespace) -> int:
    from chalicelib.packaging import build

    if args.member:
        from chalicelib.member import render_member_stack

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "member.json").write_text(render_member_stack())
        print(f"{out / 'member.json'} written: deploy it with a StackSet (docs/deploy.md)")
        return EXIT_OK

    zip_path = build(stage=args.stage, out=Path(args.out))
    print(f"{zip_path} and {zip_path.with_name('sam.json')} built for stage {args.stage}; "
          "deploy with the parameters OrganizationId and AlarmTopicArn (docs/deploy.md)")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from chalicelib.demo import run

    return run(output=Path(args.output))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="remediate", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("handle", help="process one EventBridge event as the Lambda would")
    p.add_argument("event", metavar="EVENT_FILE", help="event JSON file, or - for stdin")
    p.add_argument("--dry-run", action="store_true", help="plan and record, change nothing")
    p.set_defaults(func=cmd_handle)

    p = sub.add_parser("bootstrap", help=(
        "create the state table if missing (local and dev; the central stack has its own): "
        "KMS-encrypted, point-in-time recovery, deletion protection"))
    p.add_argument("--kms-key", metavar="KEY", help=(
        "customer-managed key (id, ARN or alias) for the table; default: the AWS-managed "
        "aws/dynamodb key"))
    p.set_defaults(func=cmd_bootstrap)

    for name, approve in (("approve", True), ("deny", False)):
        p = sub.add_parser(name, help=f"{name} a pending remediation (or every held fix)")
        p.add_argument("approval_id", metavar="APPROVAL_ID", nargs="?")
        p.add_argument("--as", dest="as_user", required=True, metavar="USER",
                       help="the approver's user id (must be on the allow-list)")
        p.add_argument("--held", action="store_true", help=(
            f"{name} every fix the blast-radius limit holds for --policy in --account"))
        p.add_argument("--policy", metavar="NAME", help="with --held: the policy")
        p.add_argument("--account", metavar="ID", help="with --held: the account id")
        p.set_defaults(func=lambda a, _approve=approve: _decide(a, _approve))

    p = sub.add_parser("approvals", help="list pending approvals")
    p.set_defaults(func=cmd_approvals)

    p = sub.add_parser("timeline", help="show an incident's timeline")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--format", choices=("json", "md", "html"), default="json")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=cmd_timeline)

    p = sub.add_parser("incidents", help="list incidents, newest first")
    p.add_argument("--status", choices=("open", "resolved", "rolled_back"))
    p.add_argument("--drills", action="store_true", help="list drill incidents instead")
    p.add_argument("--since", metavar="DATE", help="opened on or after (YYYY-MM-DD)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_incidents)

    p = sub.add_parser("evidence", help="HIPAA evidence report per Security Rule reference")
    p.add_argument("--since", metavar="DATE",
                   help="incidents opened on or after (YYYY-MM-DD)")
    p.add_argument("--format", choices=("md", "html", "json", "pdf"), default="md",
                   help="pdf: the HTML printed by headless Chromium (needs -o)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--verify-records", action="store_true", help=(
        "walk every timeline's hash chain and the signed digests: exit 0 intact, 1 naming "
        "each damaged incident and digest (--since: what changed since DATE)"))
    p.add_argument("--digest", action="store_true",
                   help="write one signed digest of the chain heads now")
    p.add_argument("--snapshot", action="store_true", help=(
        "add the current state of every watched resource, read from AWS"))
    p.add_argument("--accounts", metavar="IDS", help="with --snapshot: comma-separated "
                   "account ids (default: our own)")
    p.add_argument("--regions", metavar="NAMES", help="with --snapshot: comma-separated "
                   "regions (default: our home region)")
    p.add_argument("--as", dest="as_user", metavar="USER",
                   help="who generates the report (default: the login name)")
    p.add_argument("--verify", metavar="FILE", help=(
        "exit 0 if FILE is a report generated here and unchanged, 1 otherwise"))
    p.set_defaults(func=cmd_evidence)

    p = sub.add_parser("rollback", help="restore the state saved before the fix")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--force", action="store_true",
                   help="roll back even if the resource changed since the fix")
    p.add_argument("--as", dest="as_user", metavar="USER", help="who is rolling back")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("drill", help="an incident-response drill (plans only, no AWS change)")
    p.add_argument("--scenario", metavar="NAME", help="one shipped scenario (default: all)")
    p.add_argument("--format", choices=("json", "md", "html"), default="json")
    p.set_defaults(func=cmd_drill)

    p = sub.add_parser("assess", help="record the breach risk assessment of an incident")
    p.add_argument("incident_id", metavar="INCIDENT_ID")
    p.add_argument("--breach", required=True, choices=("yes", "no"),
                   help="yes: notification required; no: not a breach (stops the clock)")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why, for the auditor")
    p.add_argument("--as", dest="as_user", required=True, metavar="USER",
                   help="the assessor's user id (must be an approver)")
    p.set_defaults(func=cmd_assess)

    p = sub.add_parser("policies", help="policy files")
    psub = p.add_subparsers(dest="policies_command", required=True, metavar="COMMAND")
    v = psub.add_parser("validate", help="load and check policy files")
    v.add_argument("dir", nargs="?", metavar="DIR", help="default: the shipped policies/")
    v.set_defaults(func=cmd_validate)

    p = sub.add_parser("redrive", help="re-handle the events in the dead-letter queue")
    p.add_argument("queue_url", metavar="QUEUE_URL", help="the dead-letter queue's URL")
    p.set_defaults(func=cmd_redrive)

    p = sub.add_parser("package", help="build the Lambda artifact and SAM template")
    p.add_argument("--stage", default="prod", choices=("dev", "prod"))
    p.add_argument("--out", default="dist", help="output directory (replaced)")
    p.add_argument("--member", action="store_true",
                   help="write the member-account stack for a StackSet (OUT/member.json)")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("demo", help="the whole story on an embedded AWS emulator")
    p.add_argument("--output", default="demo-output", help="where timelines are written")
    p.set_defaults(func=cmd_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not (os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL")):
        from chalicelib.log import logger

        logger.setLevel("WARNING")  # an operator's terminal: results on stdout, problems only

    try:
        return int(args.func(args))
    except InvalidEvent as exc:
        _die(str(exc), EXIT_INPUT)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        _die(f"{len(exc.problems)} policy problem(s)", EXIT_INPUT)
    except Refused as exc:
        _die(str(exc), EXIT_REFUSED)
    except ConfigurationError as exc:
        _die(str(exc), EXIT_INPUT)
    except AutoremediateError as exc:
        _die(f"{type(exc).__name__}: {_one_line(exc)}", EXIT_FAILED)
    except KeyboardInterrupt:
        _die("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
