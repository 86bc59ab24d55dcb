"""``drawbench run CONFIG.toml``: the whole benchmark from one file."""

from __future__ import annotations

from drawbench.commands import add_verb


def register(subparsers, summary: str) -> None:
    p = add_verb(
        subparsers,
        "run",
        summary,
        "Generate, evaluate, (optionally) set up a rating study, and write the report, from one TOML "
        "config. Everything (prompts, generator names and options, output folders, metric models, "
        "reference statistics, study) is validated before any model loads; every stage resumes "
        "where it stopped. Example configs ship with drawbench: see --list-examples.",
        """
  drawbench run --list-examples
  drawbench run example:drawbench-two-diffusers --check      # validate only
  drawbench run my_benchmark.toml
  drawbench run my_benchmark.toml --force-evaluate
""",
    )
    p.add_argument("config", nargs="?", help="a TOML config, or example:NAME for a shipped example")
    p.add_argument(
        "--check", action="store_true", help="validate the config and exit (loads no model)"
    )
    p.add_argument(
        "--force-evaluate", action="store_true", help="recompute metrics even when up to date"
    )
    p.add_argument("--list-examples", action="store_true", help="list the shipped example configs")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from drawbench.commands import CommandError
    from drawbench.pipeline.config import ConfigError, load_run_config
    from drawbench.pipeline.examples import example_path, list_examples

    if args.list_examples:
        for name, summary in list_examples().items():
            print(f"example:{name:<28} {summary}")
        return 0
    if not args.config:
        raise CommandError("give a CONFIG.toml (or example:NAME; see --list-examples)")
    try:
        path = (
            example_path(args.config[len("example:") :])
            if args.config.startswith("example:")
            else args.config
        )
        cfg = load_run_config(path)
        from drawbench.pipeline.benchmark import plan_benchmark, run_benchmark

        if args.check:
            plan = plan_benchmark(cfg)
            print(
                f"{path}: valid: {len(plan.requests)} generator(s), {len(plan.requests[0].prompts)} prompts "
                f"x {cfg.prompts.images_per_prompt} images; runs under {cfg.out_dir}"
            )
            for note in plan.notes:
                print(f"note: {note}")
            return 0
        report = run_benchmark(
            cfg, progress=not args.no_progress, force_evaluate=args.force_evaluate
        )
    except (ConfigError, ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from None
    print(f"report: {report}")
    return 0
