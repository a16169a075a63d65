"""One warm Lambda sandbox: imports the handler once, then serves invocations over a pipe.

Run as a script with only the function's code and its layers on ``sys.path`` (as in
Lambda). Protocol: one JSON line in on stdin per invocation, one JSON line out on the
original stdout; the function's own prints and logs go to stderr.
"""

import importlib
import json
import os
import sys
import time
import traceback


class Context:
    """The Lambda context object handlers receive."""

    def __init__(self, request_id, deadline_ms, function_name, memory_mb):
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(error):
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main():
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the function's stdout joins its stderr, as in Lambda's log stream
    sys.stdout = sys.stderr
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    init_error = None
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # reported on every invoke, as Lambda does
        handler = None
        init_error = {**_error(error), "errorType": f"Runtime.ImportModuleError: {type(error).__name__}"}
    protocol.write(json.dumps({"ready": True, "init_ms": (time.perf_counter() - started) * 1000}) + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        if init_error is not None:
            protocol.write(json.dumps({"ok": False, "error": init_error}) + "\n")
            continue
        context = Context(
            message["request_id"],
            message["deadline_ms"],
            os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        )
        try:
            result = handler(message["payload"], context)
            try:
                reply = json.dumps({"ok": True, "result": result})
            except (TypeError, ValueError) as error:
                reply = json.dumps({"ok": False, "error": {**_error(error), "errorType": "Runtime.MarshalError"}})
            protocol.write(reply + "\n")
        except Exception as error:
            print(json.dumps({"level": "ERROR", "message": "handler raised", **_error(error)}), file=sys.stderr)
            protocol.write(json.dumps({"ok": False, "error": _error(error)}) + "\n")


if __name__ == "__main__":
    main()
