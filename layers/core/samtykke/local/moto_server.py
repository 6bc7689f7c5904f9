"""moto's server app on a loopback port, in a thread of this process, with its backends made safe for concurrency.

This is `moto.server.ThreadedMotoServer` with our fixes and SES v2's bulk send and templates (`moto_fixes`,
`moto_ses_bulk`) installed, and one change. moto's backends are not thread-safe: concurrent
TransactWriteItems, for one, deep-copy a table while another request changes it. So every service answers one
request at a time, except SQS, which guards its queues itself and must not hold everyone up during long polls.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask
    from moto.backends import SERVICE_NAMES

CONCURRENT_SERVICES = frozenset({"sqs"})


class MotoServer:
    def __init__(self, host: str) -> None:
        from samtykke.local import moto_fixes, moto_ses_bulk

        moto_fixes.apply()
        moto_ses_bulk.install()
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(self._backend_app)
        self._server = make_server(host, 0, app, threaded=True)
        self.endpoint_url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _backend_app(self, service: SERVICE_NAMES) -> Flask:
        app = create_backend_app(service)
        if service not in CONCURRENT_SERVICES:  # Flask's middleware idiom, which mypy does not follow
            app.wsgi_app = self._one_at_a_time(app.wsgi_app)  # type: ignore[method-assign,assignment]
        return app

    def _one_at_a_time(self, wsgi_app: WSGIApplication) -> WSGIApplication:
        def serialized(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            with self._lock:
                return list(wsgi_app(environ, start_response))  # the whole response, before the next request runs

        return serialized
