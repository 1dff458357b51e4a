"""What a second local stack in the same process reuses from the first, so that it starts in a fraction of the time.

Only inputs that cannot differ between stacks are shared, each keyed by what it is made from:

- botocore's data loader (the service models, endpoint rules and partitions, parsed from JSON once per process).
  Every stack still gets a session of its own (credentials, endpoint, event hooks are read afresh); only the
  loader, which holds read-only data, is shared. Loading a service's model again costs 0.2 to 1 s per service;
- moto's server loop wakes every 50 ms to notice a stop, instead of werkzeug's default 500 ms;
- moto's Step Functions engine parses a definition's ASL (with ANTLR, in pure Python: about 0.3 s for the
  onboarding machine) when the machine is created and again at every execution. The parse tree of a definition
  is kept, keyed by its exact text; each execution still gets a program of its own, built from the tree by
  moto's preprocessor, and a definition with syntax errors is parsed (and refused) every time;
- moto validates a definition at CreateStateMachine by parsing and preprocessing it: once per definition text;
- moto's server looks up its own module list on disk (about 200 ``stat`` calls) for every request: listed once;
- the heap as it is once a stack has started (every module imported, moto's backends and models loaded) is
  frozen out of the cyclic garbage collector's reach (``gc.freeze``) until the stack stops: a burst's
  collections then scan only what the burst allocates.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges


@functools.cache
def _data_loader() -> Any:
    import botocore.loaders
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


def boto3_session() -> Any:
    """A new boto3 session (it reads the environment as any new session does) on the process's shared loader."""
    import boto3.session
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", _data_loader())
    return boto3.session.Session(botocore_session=core)


POLL_SECONDS = 0.05  # how often a server loop looks for a stop request


def moto_server(ip_address: str, port: int = 0) -> Any:
    """moto's threaded server, whose loop notices a stop within POLL_SECONDS (it is started as moto starts it).

    Port 0 (the default) binds a free port at once, read back with ``get_host_and_port()`` once started: a port
    chosen first and bound later can be taken meanwhile by another process (a parallel test worker's stack).
    ``start()`` raises what stopped the server from listening; moto's own would wait for it forever."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class QuickStopMotoServer(ThreadedMotoServer):
        failure: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            except BaseException as exc:
                self.failure = exc
                raise
            finally:
                self._server_ready_event.set()
            self._server.serve_forever(poll_interval=POLL_SECONDS)

        def start(self) -> None:
            super().start()
            if self.failure is not None:
                raise RuntimeError(f"moto's server did not listen on {self._ip_address}:{self._port}") from self.failure

    return QuickStopMotoServer(ip_address=ip_address, port=port, verbose=False)


# ------------------------------------------------------------------ moto, for the running stack
_TREES: OrderedDict[str, Any] = OrderedDict()  # ASL definition text -> ANTLR parse tree (read-only once built)
_TREES_LOCK = threading.Lock()
_TREES_KEPT = 64


def _asl_tree(definition: str) -> Any:
    """The ANTLR parse tree of a definition, as moto's AmazonStateLanguageParser builds it (syntax errors raise)."""
    from antlr4 import CommonTokenStream, InputStream
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException, SyntaxErrorListener

    with _TREES_LOCK:
        if definition in _TREES:
            _TREES.move_to_end(definition)
            return _TREES[definition]
    listener = SyntaxErrorListener()  # type: ignore[no-untyped-call]
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    tree = parser.state_machine()  # type: ignore[no-untyped-call]
    if listener.errors:
        raise ASLParserException(errors=listener.errors)
    with _TREES_LOCK:
        _TREES[definition] = tree
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)
    return tree


def _parse(definition: str) -> tuple[Any, Any]:
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    tree = _asl_tree(definition)
    return Preprocessor().visit(tree), tree  # a fresh program: evaluation components are per execution


_ORIGINAL_MODULES: Any = None  # moto.backends.list_of_moto_modules


@functools.cache
def _moto_modules() -> tuple[str, ...]:
    return tuple(_ORIGINAL_MODULES())


_VALID: set[str] = set()  # definitions moto's CreateStateMachine validated (parsed and preprocessed) once
_ORIGINAL_VALIDATE: Any = None


def _validate_definition(definition: str) -> None:
    """moto's validation of a definition at CreateStateMachine (a parse and a preprocessing pass, about 0.2 s for
    the onboarding machine), done once per definition text: its outcome depends on the text alone. Refused
    definitions are validated (and refused) every time."""
    if definition in _VALID:
        return
    _ORIGINAL_VALIDATE(definition)
    with _TREES_LOCK:
        _VALID.add(definition)


def install(changes: ProcessChanges) -> None:
    """Put the moto shortcuts above in place until ``changes`` is restored."""
    global _ORIGINAL_MODULES, _ORIGINAL_VALIDATE
    import moto.backends
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if _ORIGINAL_MODULES is None:
        _ORIGINAL_MODULES = moto.backends.list_of_moto_modules
    if _ORIGINAL_VALIDATE is None:
        _ORIGINAL_VALIDATE = StepFunctionsParserBackend._validate_definition
    changes.patch(moto.backends, "list_of_moto_modules", _moto_modules)
    changes.patch(AmazonStateLanguageParser, "parse", staticmethod(_parse))
    changes.patch(StepFunctionsParserBackend, "_validate_definition", staticmethod(_validate_definition))


def running_executions(account: str, region: str) -> int:
    """Executions RUNNING in moto's Step Functions engine, read from its backend: moto serves from this process,
    and a poll over HTTP (ListStateMachines, then ListExecutions per machine) costs about 0.1 s of CPU."""
    from moto.stepfunctions.responses import get_backend

    backend = get_backend(account, region)
    return sum(
        1
        for machine in list(backend.state_machines)
        for execution in list(machine.executions)
        if str(getattr(execution.status, "value", execution.status)) == "RUNNING"
    )


def freeze_heap(changes: ProcessChanges) -> None:
    """Keep what exists now out of the garbage collector's scans until ``changes`` is restored."""
    gc.freeze()
    changes.on_restore(gc.unfreeze)
