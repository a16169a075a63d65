"""moto's server in a process of its own, one per local stack: ``python _moto_process.py PORT``.

moto keeps every backend in module globals, so two servers in one process share their state
(and a reset of one wipes the other). Here each stack's AWS is its own process: moto's own
WSGI app and request handler (as its ``ThreadedMotoServer`` serves them), bound in the main
thread so that a taken port is an error message and an exit, not a hang. It prints the port it
listens on, and exits when its standard input closes: when the stack that started it stops,
or dies.
"""

import contextlib
import logging
import sys
import threading


def main(port: int) -> int:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log
    try:
        server = make_server(
            "127.0.0.1", port, DomainDispatcherApplication(create_backend_app), True, request_handler=MotoRequestHandler
        )
    except (OSError, SystemExit):  # werkzeug prints why ("Address already in use") and exits
        return 1
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()  # until the parent closes it (or goes away)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # a stray Ctrl-C: the parent stops us anyway
        sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
