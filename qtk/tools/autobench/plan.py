"""The fork server's plan for one run: what it preloads (imports.py chose it), which modules are
not forked from it, and what the run taught the cache for next time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from qtk.tools.autobench import discover, imports
from qtk.tools.autobench.results import NOTRUN, ModuleResult


@dataclass
class Plan:
    """What the fork server preloads and which modules are not forked from it (imports.py)."""

    auto: list[str] = field(default_factory=list)
    sys_path_dirs: list[str] = field(default_factory=list)
    fresh: dict[Path, str] = field(default_factory=dict)  # module -> why a fresh interpreter
    unsafe: dict[str, str] = field(default_factory=dict)  # import -> why not preloaded (grows)
    orders: dict[Path, dict] = field(default_factory=dict)  # fresh module -> its last fresh run's env_order
    env_forked: dict[Path, str] = field(default_factory=dict)  # forked although it changes os.environ


def fork_checked(plan: Plan, server_modules: frozenset[str]) -> None:
    """Fork a module that changes os.environ after all when its last fresh run imported none of
    the server's modules after the change: forked, its imports happen in the same order relative
    to that change as in a fresh interpreter (the fork checks this again at the change)."""
    for m, order in plan.orders.items():
        if m in plan.fresh and server_modules.isdisjoint(order["after"]):
            plan.env_forked[m] = plan.fresh.pop(m)


def make_plan(modules: list[Path], target: Path, opts, cache: discover.DurationCache) -> Plan:
    plan = Plan(unsafe=dict(cache.unsafe))
    if not opts.auto_preload:
        return plan
    measured = {m: cache.imports[cache.key(m)] for m in modules if cache.key(m) in cache.imports}
    suite = imports.SuiteImports(modules, discover.cache_root(target), opts.patterns, measured, cache.scans)
    plan.fresh = {**{m: cache.fresh[cache.key(m)] for m in modules if cache.key(m) in cache.fresh}, **suite.plain}
    plan.auto = suite.shared(fresh=set(plan.fresh))  # the server skips those in plan.unsafe
    plan.sys_path_dirs = imports.sys_path_dirs(modules)
    plan.orders = {m: order for m in plan.fresh if (order := cache.env_order(m)) is not None}
    return plan


def remember(cache: discover.DurationCache, scheduler, results: dict[Path, ModuleResult]) -> None:
    """Durations and start-ups, what each module imported, which modules change os.environ (and
what their fresh runs imported after the change), unsafe imports."""
    cache.update({m: r.duration_s for m, r in results.items() if r.status != NOTRUN})
    cache.setups.update({cache.key(m): round(s, 3) for m, s in scheduler.setups.items()})
    for m, names in scheduler.imported.items():
        cache.imports[cache.key(m)] = names
    for m, changed in scheduler.env_changes.items():
        if changed:
            cache.fresh[cache.key(m)] = f"changes os.environ ({', '.join(changed[:3])})"
        else:
            cache.fresh.pop(cache.key(m), None)
            cache.set_env_order(m, None)
    for m, order in scheduler.env_orders.items():
        cache.set_env_order(m, order)
    for m, why in scheduler.split_checks.items():
        cache.set_split_check(m, why)
    cache.unsafe = dict(scheduler.plan.unsafe)


def announce(scheduler, known_unsafe: set[str], on_notice: Callable[[str], None]) -> None:
    plan, server = scheduler.plan, scheduler.server
    if server is not None:
        for name in sorted({*server.skipped, *(set(plan.unsafe) - known_unsafe)}):
            on_notice(f"not preloading {name}: {plan.unsafe[name]} (the test modules import it themselves)")
        for name in server.threaded:
            on_notice(f"--preload {name}: its import started a thread; preloaded anyway, as asked")
        if plan.fresh and scheduler.opts.auto_preload:
            n = len(plan.fresh)
            why = next(iter(plan.fresh.values()))
            on_notice(f"{n} module{'s' if n != 1 else ''} run in a fresh interpreter, not forked from the "
                      f"preload: {why}" + (" (and others)" if len(set(plan.fresh.values())) > 1 else ""))
