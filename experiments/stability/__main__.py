"""``python -m experiments.stability <command> [options]``: see :mod:`experiments.stability`."""

from __future__ import annotations

import sys

#: command -> (module, what it runs)
COMMANDS = {
    "untrained": ("backbones", "untrained backbones x recurrences on random input"),
    "camera": ("camera", "denoisers trained on camera-motion clips, run for thousands of frames"),
    "small": ("small", "a small denoiser on noisy Moving-MNIST: unconstrained, SRN-C, unitary"),
}


def usage() -> str:
    lines = ["usage: python -m experiments.stability {" + ",".join(COMMANDS) + "} [options]", ""]
    lines += [f"  {name:<10} {what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        if argv[0].startswith("-"):  # the study's first command took no name
            print("experiments.stability: no command given, running `small` (name it: "
                  "python -m experiments.stability small ...)", file=sys.stderr)  # fmt: skip
            argv = ["small", *argv]
        else:
            raise SystemExit(f"experiments.stability: unknown command {argv[0]!r}\n{usage()}")
    from importlib import import_module

    from .. import runner

    module = import_module(f"{__package__}.{COMMANDS[argv[0]][0]}")
    runner.cli(lambda: module.main(argv[1:]))
    return 0


if __name__ == "__main__":
    main()
