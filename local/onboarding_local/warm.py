"""What a second local stack in the same process reuses from the first, so that it starts in a fraction of the time.

Only inputs that cannot differ between stacks are shared, each keyed by what it is made from:

- botocore's data loader (the service models, endpoint rules and partitions, parsed from JSON once per process).
  Every stack still gets a session of its own (credentials, endpoint, event hooks are read afresh); only the
  loader, which holds read-only data, is shared, with the sessions moto makes too. Loading a
  service's model again costs 0.2 to 1 s per service;
- moto's server loop wakes every 50 ms to notice a stop, instead of werkzeug's default 500 ms;
- moto's Step Functions engine parses a definition's ASL (with ANTLR, in pure Python: about 0.3 s for the
  onboarding machine) when the machine is created and again at every execution. The parse tree of a definition
  is kept, keyed by its exact text; each execution still gets a program of its own, built from the tree by
  moto's preprocessor, and a definition with syntax errors is parsed (and refused) every time;
- moto validates a definition at CreateStateMachine by parsing and preprocessing it: once per definition text;
- moto's preprocessor then builds an evaluation program from the tree at every execution (about 50 ms of CPU for
  the onboarding machine). The program is kept per definition text too. It is stateless: an execution's state
  lives in its own ``Environment`` (stack, heap, states, variables; Map and Parallel frames get their own),
  and moto itself already runs one program's components in concurrent Map iterations and Parallel branches.
  The two exceptions are handled: a component's ``heap_key`` (its name in the execution's heap, drawn at
  random on first use) is drawn for every component before the program is shared, so concurrent executions
  cannot draw two; and a Pass state's ``Result``, the one literal that is a mutable JSON object, is pushed
  as a copy (ResultPath copies it anyway; a program per execution had a fresh one);
- the engine's AWS clients (a Lambda client per Task invoke: about 25 ms of CPU each) are kept per region
  and service while the stack runs; JSONPath expressions are parsed once per text (jsonpath_ng builds a yacc
  parser per ``parse``); the names of a moto response class's methods are listed once per class;
- moto's server looks up its own module list on disk (about 200 ``stat`` calls) for every request: listed once;
- the heap as it is once a stack has started (every module imported, moto's backends and models loaded) is
  frozen out of the cyclic garbage collector's reach (``gc.freeze``) until the stack stops: a burst's
  collections then scan only what the burst allocates.
"""

from __future__ import annotations

import copy
import functools
import gc
import importlib
import inspect
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges


def _default_data_path() -> str | None:
    import botocore.session

    return botocore.session.get_session().get_config_variable("data_path")


@functools.cache
def _loader_for(search_path_string: str | None) -> Any:
    """One botocore data loader per data path, for the whole process."""
    import botocore.loaders

    return botocore.loaders.create_loader(search_path_string)


def _data_loader() -> Any:
    return _loader_for(_default_data_path())


def share_data_loader(changes: ProcessChanges) -> None:
    """Until ``changes`` is restored, every new botocore session reads service models through the process's one
    data loader for its data path. moto makes a session per lookup of a service's regions: importing its EC2 models
    (which its Step Functions engine imports) read EC2's service model, the largest, three times, and each backend's
    first use read its service's model again (a one-signup ``onboarding-local run``: 8.8 -> 7.2 s of CPU). moto's
    own model reads keep moto's loader, which adds moto's extra model files, and moto caches them per process."""
    import botocore.session

    changes.patch(botocore.session, "create_loader", _loader_for)


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

    class QuickStopMotoServer(ThreadedMotoServer):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
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

        @property
        def app(self) -> Any:
            """The WSGI app the server runs (moto's domain dispatcher), once started."""
            return self._server.app

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
    listener = SyntaxErrorListener()
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    tree = parser.state_machine()
    if listener.errors:
        raise ASLParserException(errors=listener.errors)
    with _TREES_LOCK:
        _TREES[definition] = tree
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)
    return tree


_PROGRAMS: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # definition text -> (program, tree), shared


def _parse(definition: str) -> tuple[Any, Any]:
    """moto's ``AmazonStateLanguageParser.parse``: the program and parse tree of a definition, kept per text."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    with _TREES_LOCK:
        if definition in _PROGRAMS:
            _PROGRAMS.move_to_end(definition)
            return _PROGRAMS[definition]
    tree = _asl_tree(definition)
    program = Preprocessor().visit(tree)
    _settle_heap_keys(program)
    with _TREES_LOCK:
        parsed = _PROGRAMS.setdefault(definition, (program, tree))
        while len(_PROGRAMS) > _TREES_KEPT:
            _PROGRAMS.popitem(last=False)
    return parsed


def _settle_heap_keys(program: Any) -> None:
    """Draw every component's ``heap_key`` now: moto draws it on first use, and two executions sharing the program
    could otherwise each draw one for the same component (a retrier's attempt count would then be lost)."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    todo: list[Any] = [program]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EvalComponent):
            item.heap_key  # noqa: B018 - drawn on first read
        if isinstance(item, Component):
            todo.extend(vars(item).values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())


def _result_eval_body(self: Any, env: Any) -> None:
    """A Pass state's ``Result`` pushed as a copy: the kept program's literal is never handed to an execution."""
    env.stack.append(copy.deepcopy(self.result_obj))


_ENGINE_CLIENTS: dict[tuple[Any, ...], Any] = {}
_ENGINE_CLIENTS_LOCK = threading.Lock()
_ORIGINAL_BOTO_CLIENT_FOR: Any = None
_BOTO_CLIENT_FOR_USERS = (  # moto's engine modules that import boto_client_for by name
    "moto.stepfunctions.parser.asl.utils.boto_client",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    *(
        f"moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_{name}"
        for name in ("unsupported", "glue", "events", "ecs", "sqs", "sfn", "dynamodb", "batch", "sns", "aws_sdk")
    ),
)


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's engine client for a Task's service, kept per region and service (and the default session and port
    it is made from) while the stack runs: botocore clients are thread-safe, and moto made one per Task invoke.
    The execution's credentials are not part of the key, as moto's own function does not use them."""
    import boto3
    from moto.settings import moto_server_port

    key = (id(boto3.DEFAULT_SESSION), moto_server_port(), region, service)
    with _ENGINE_CLIENTS_LOCK:
        client = _ENGINE_CLIENTS.get(key)
    if client is None:
        client = _ORIGINAL_BOTO_CLIENT_FOR(region, service, state_credentials)
        with _ENGINE_CLIENTS_LOCK:
            client = _ENGINE_CLIENTS.setdefault(key, client)
    return client


@functools.lru_cache(maxsize=1024)
def _jsonpath(path: str) -> Any:
    """jsonpath_ng.ext's parse, once per expression text (its expressions are immutable once parsed)."""
    from jsonpath_ng.ext.parser import parse

    return parse(path)


@functools.lru_cache(maxsize=1024)
def _jsonpath_plain(path: str) -> Any:
    """jsonpath_ng's parse (ResultPath's), once per expression text."""
    from jsonpath_ng.parser import parse

    return parse(path)


_METHOD_NAMES: dict[type, list[str]] = {}


def _method_names_from_class(clazz: Any) -> list[str]:
    """moto's per-request ``inspect.getmembers`` of a response class, once per class while the stack runs (the
    stack's patches replace methods; they add none)."""
    names = _METHOD_NAMES.get(clazz)
    if names is None:
        names = _METHOD_NAMES[clazz] = [name for name, _ in inspect.getmembers(clazz, predicate=inspect.isfunction)]
    return list(names)


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
    _install_engine_shortcuts(changes)


def _install_engine_shortcuts(changes: ProcessChanges) -> None:
    global _ORIGINAL_BOTO_CLIENT_FOR
    import moto.core.responses
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.state_pass.result import Result
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    if _ORIGINAL_BOTO_CLIENT_FOR is None:
        _ORIGINAL_BOTO_CLIENT_FOR = boto_client.boto_client_for
    for name in _BOTO_CLIENT_FOR_USERS:
        changes.patch(importlib.import_module(name), "boto_client_for", _boto_client_for)
    changes.on_restore(_ENGINE_CLIENTS.clear)
    changes.patch(Result, "_eval_body", _result_eval_body)
    changes.patch(json_path, "parse", _jsonpath)
    changes.patch(result_path, "parse", _jsonpath_plain)
    changes.patch(moto.core.responses, "method_names_from_class", _method_names_from_class)
    changes.on_restore(_METHOD_NAMES.clear)


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


GC_YOUNG_THRESHOLD = 20_000  # allocations between young collections while a stack runs (CPython's default: 700)


def freeze_heap(changes: ProcessChanges) -> None:
    """Keep what exists now out of the garbage collector's scans until ``changes`` is restored, and collect the
    young generation every GC_YOUNG_THRESHOLD allocations instead of 700: a burst allocates mostly short-lived
    request and response objects, and each young collection scans them all (thresholds put back on restore)."""
    gc.freeze()
    changes.on_restore(gc.unfreeze)
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
    changes.on_restore(lambda: gc.set_threshold(*threshold))
