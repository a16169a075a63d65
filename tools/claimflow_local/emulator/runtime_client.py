"""A small runtime interface client speaking the Lambda Runtime API, for machines where AWS's
``awslambdaric`` has no wheel (macOS, Windows). Standard library only; run as
``python -S runtime_client.py <handler>`` with ``AWS_LAMBDA_RUNTIME_API`` set, as Lambda runs
its bootstrap. It loads the handler and reports errors in the shapes awslambdaric uses
(``Runtime.MalformedHandlerName``, ``Runtime.ImportModuleError``, ``Runtime.UserCodeSyntaxError``,
``Runtime.HandlerNotFound``, ``Runtime.MarshalError``, ``Runtime.UnmarshalError``).
"""

import http.client
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, NoReturn

_PREFIX = "/2018-06-01/runtime"


class Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace or []


class Context:
    """The context object a handler receives (the attributes awslambdaric's has)."""

    def __init__(self, request_id: str | None, deadline_ms: int, function_arn: str | None) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = None
        self.identity = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler(name: str) -> Any:
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as error:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': {error}") from None
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}", trace) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'") from None


def call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response, response.read()


def error_document(error_type: str, message: str, trace: list[str]) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": trace}).encode()


def main(handler_name: str) -> NoReturn:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
    connection = http.client.HTTPConnection(host, int(port or 80))
    try:
        handler = load_handler(handler_name)
    except Fault as fault:
        print(f"[ERROR] {fault.error_type}: {fault.message}", flush=True)
        call(
            connection,
            "POST",
            f"{_PREFIX}/init/error",
            error_document(fault.error_type, fault.message, fault.trace),
            {"Lambda-Runtime-Function-Error-Type": fault.error_type},
        )
        sys.exit(1)
    while True:
        response, body = call(connection, "GET", f"{_PREFIX}/invocation/next")
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        deadline = int(response.getheader("Lambda-Runtime-Deadline-Ms") or 0)
        arn = response.getheader("Lambda-Runtime-Invoked-Function-Arn")
        os.environ["_X_AMZN_TRACE_ID"] = response.getheader("Lambda-Runtime-Trace-Id") or ""
        try:
            try:
                event = json.loads(body)
            except ValueError as error:
                raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {error}") from None
            result = handler(event, Context(request_id, deadline, arn))
            try:
                answer = json.dumps(result, ensure_ascii=False).encode()
            except (TypeError, ValueError) as error:
                raise Fault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None
        except Fault as fault:
            document = error_document(fault.error_type, fault.message, fault.trace)
        except Exception as error:
            trace = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
            document = error_document(type(error).__name__, str(error), trace)
            print(f"[ERROR] {type(error).__name__}: {error}", flush=True)
        else:
            call(connection, "POST", f"{_PREFIX}/invocation/{request_id}/response", answer, {"Content-Type": "application/json"})
            continue
        call(connection, "POST", f"{_PREFIX}/invocation/{request_id}/error", document, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main(sys.argv[1])
