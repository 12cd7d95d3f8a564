"""The `moodsense` command line. Bad configuration: one line per problem, exit code 2."""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from edge import __version__
from edge.appliance.signals import stop_on_signals
from edge.config import ConfigError, EdgeConfig, load_config, load_secrets, print_config_error
from edge.evaluation.cli import add_eval_parser
from edge.inference.store_cli import add_store_parsers
from edge.pipeline.cli import add_pipeline_parsers
from edge.sink.cli import add_sink_parser

EXIT_OK = 0
EXIT_CONFIG = 2


def _report(error: ConfigError) -> int:
    print_config_error(error)
    return EXIT_CONFIG


def _cmd_config_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
        load_secrets(config)
    except ConfigError as error:
        return _report(error)
    print(f"{args.file}: ok (site {config.site_id}, device {config.device_id})")
    return EXIT_OK


def _cmd_config_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(EdgeConfig.model_json_schema(), indent=2))
    return EXIT_OK


def _cmd_contract_export(args: argparse.Namespace) -> int:
    from edge.events.contract import export_schemas

    for path in export_schemas(args.directory):
        print(path)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from edge.config import resolve_state_dir
    from edge.inference.registry import ModelError
    from edge.logsetup import configure_logging
    from edge.voice.warmup import use_state_caches
    from edge.web.server import WebServerError

    try:
        config = load_config(args.config)
        secrets = load_secrets(config)
    except ConfigError as error:
        return _report(error)
    configure_logging(config.logging.level)
    use_state_caches(resolve_state_dir(config))
    stop = stop_on_signals()
    from edge.pipeline.live import LiveService  # after the numba cache is set

    try:
        live = LiveService(config, secrets)
    except (ModelError, ConfigError, WebServerError) as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return EXIT_CONFIG
    live.run(stop)
    return EXIT_OK


def _cmd_doctor(args: argparse.Namespace) -> int:
    from edge.doctor import run_checks
    from edge.logsetup import quiet_native_libraries

    quiet_native_libraries()
    try:
        config = load_config(args.config)
        load_secrets(config)
    except ConfigError as error:
        return _report(error)
    findings = run_checks(config)
    for finding in findings:
        fix = f"  -> {finding.fix}" if finding.fix else ""
        print(f"{finding.status.upper():<4} {finding.check:<12} {finding.detail}{fix}")
    return 1 if any(f.status == "fail" for f in findings) else EXIT_OK


def _cmd_models_verify(args: argparse.Namespace) -> int:
    from edge.inference.registry import DEFAULT_MODELS_DIR, ModelError, ModelRegistry

    try:
        specs = ModelRegistry(args.dir or DEFAULT_MODELS_DIR).verify_all()
    except ModelError as error:
        print(f"model check failed: {error}", file=sys.stderr)
        return EXIT_CONFIG
    for spec in specs:
        print(f"{spec.name}: ok ({spec.path.name}, sha256 {spec.sha256[:12]}…)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="moodsense", description=__doc__)
    parser.add_argument("--version", action="version", version=f"moodsense-edge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the service")
    run.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    run.set_defaults(func=_cmd_run)

    config = commands.add_parser("config", help="check a config file or print its schema")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate FILE (exit 2 when invalid)")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_cmd_config_check)
    schema = config_commands.add_parser("schema", help="print the config JSON Schema")
    schema.set_defaults(func=_cmd_config_schema)

    doctor = commands.add_parser("doctor", help="check devices, models, broker, calibration")
    doctor.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    doctor.set_defaults(func=_cmd_doctor)

    models = commands.add_parser("models", help="the TFLite models")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    verify = models_commands.add_parser("verify", help="check every model's sha256 (exit 2)")
    verify.add_argument("--dir", type=Path, help="models directory (default: the repo's)")
    verify.set_defaults(func=_cmd_models_verify)
    add_store_parsers(models_commands)

    add_eval_parser(commands)
    add_pipeline_parsers(commands)
    add_sink_parser(commands)

    contract = commands.add_parser("contract", help="the MQTT contract")
    contract_commands = contract.add_subparsers(dest="contract_command", required=True)
    export = contract_commands.add_parser("export", help="write payload JSON Schemas")
    export.add_argument("directory", type=Path)
    export.set_defaults(func=_cmd_contract_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `moodsense` console script."""
    args = build_parser().parse_args(argv)
    if args.command in ("run", "replay", "calibrate", "eval"):
        from edge.native_threads import limit_native_threads

        limit_native_threads()
    code: int = args.func(args)
    return code
