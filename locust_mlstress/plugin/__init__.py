"""The Locust wiring, in one place: `register()` adds every listener of locust-mlstress.

What runs where and when (each listener is documented in its module):

    init_command_line_parser  options.add_options           every process, each web UI page load
    init                      checks.before_traffic          judge the run (exit 2), build payload kits
                              console.quiet_interrupts       Ctrl-C without tracebacks
                              outputs.prepare                the --ml-artifacts folder
                              observe.start                  --ml-prometheus-port, the --otel export
                              webui.on_init                  the ML tab, downloads, checked start form
                              distributed                    report / receive / final-report listeners
    test_start                lifecycle.start                a fresh clock, recorder, monitor, health probe
                              checks.recheck_profiles        a profile changed from the web UI
                              distributed.announce_run       the worker count, in the spawn messages
                              observe.new_test               the exports' counters restart
    test_stop                 distributed.collect_at_stop    a headless master: the workers' final reports
    reset_stats               observe.new_test               Reset: the exports' counters restart
                              lifecycle.reset (by webui)     Reset: our figures restart
    spawning_complete         lifecycle.reset_after_spawning --reset-stats: ours reset with Locust's
                              webui._after_spawning          ... and the ML tab forgets its cache
    quitting                  lifecycle.finish_held          final figures, gates, files, exit code
                              observe.finish                 the final figures exported, then linger
    quit                      lifecycle.release_held         our console lines, after Locust's tables

Importing a user class from `locust_mlstress` calls `register()`, as Locust plugins register on
import; calling it again does nothing.
"""

from __future__ import annotations

from locust import events
from locust.env import Environment

from locust_mlstress.plugin import checks, distributed, lifecycle, observe, options, outputs, webui
from locust_mlstress.plugin.console import quiet_interrupts
from locust_mlstress.plugin.state import MLState, is_worker, state_of
from locust_mlstress.users.context import use_state

__all__ = ["register", "state_of"]

_registered = False


def register() -> None:
    """Add the package's listeners to Locust's events, once per process."""
    global _registered
    if _registered:
        return
    _registered = True
    use_state(MLState.make)
    events.init_command_line_parser.add_listener(options.add_options)
    events.init.add_listener(checks.before_traffic)
    events.init.add_listener(_wire)
    events.init.add_listener(webui.on_init)
    events.test_start.add_listener(_on_test_start)


def _wire(environment: Environment, **_kwargs) -> None:
    """The environment's own listeners: a worker reports, a local runner or master adds up,
    finishes at `quitting` and prints last at `quit`."""
    state_of(environment)
    quiet_interrupts()
    hooks = environment.events
    if is_worker(environment):
        hooks.report_to_master.add_listener(lambda client_id, data, **_kw: distributed.send_report(environment, data))
        hooks.quitting.add_listener(lambda **_kw: distributed.send_final_report(environment))
        hooks.spawning_complete.add_listener(lambda **_kw: lifecycle.reset_after_spawning(environment))
        return
    outputs.prepare(environment)
    observe.start(environment)
    hooks.reset_stats.add_listener(lambda **_kw: observe.new_test(environment, reset=True))
    hooks.spawning_complete.add_listener(lambda **_kw: _reset_after_spawning(environment))
    hooks.test_stop.add_listener(lambda **_kw: distributed.collect_at_stop(environment))
    hooks.worker_report.add_listener(
        lambda client_id, data, **_kw: distributed.receive_report(environment, client_id, data)
    )
    # Locust fires `quitting` in reverse order of registration: the exports go out after finishing.
    hooks.quitting.add_listener(lambda environment, **_kw: observe.finish(environment))
    hooks.quitting.add_listener(lambda environment, **_kw: lifecycle.finish_held(environment))
    hooks.quit.add_listener(lambda **_kw: lifecycle.release_held(environment))


def _reset_after_spawning(environment: Environment) -> None:
    if lifecycle.reset_after_spawning(environment):
        observe.new_test(environment, reset=True)  # the exports' counters restart with ours


def _on_test_start(environment: Environment, **_kwargs) -> None:
    lifecycle.start(environment)
    if not is_worker(environment):
        observe.new_test(environment)
        checks.recheck_profiles(environment)
        distributed.announce_run(environment)
