"""Operator commands of ``runner.py <command>``: each module has ``main(name, argv, env) -> int`` (see
``kalshi_mm.app.COMMANDS``)."""
