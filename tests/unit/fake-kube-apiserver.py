#!/usr/bin/env python3
"""A stand-in for kube-apiserver, for the one call lockcd makes:
GET /api/v1/namespaces/<name>, over TLS.

A real kube-apiserver cannot run on the test machines (it is not packaged
in Debian 12), so this server answers that call as the real one does: a v1
Namespace object, a v1 Status object for an unknown namespace (404) or a
request without valid credentials (401). Credentials are a client
certificate signed by --client-ca or the bearer token --token.

Prints "port N" on stdout once it listens. Every request is appended to
--log as "METHOD PATH AUTH" (AUTH: cert, token or none).
"""

import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/api/v1/namespaces/"


def status(code, reason, message, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def namespace(name, labels):
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": "6f1c3a52-8d1e-4c9b-9a7e-0c2f5d4b3a10",
            "resourceVersion": "4242",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"kubernetes.io/metadata.name": name, **labels},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="server key (PEM)")
    parser.add_argument("--client-ca", required=True, help="CA of client certificates")
    parser.add_argument("--token", default="", help="the accepted bearer token")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", default="", help="file to append requests to")
    parser.add_argument("--hang", action="store_true",
                        help="accept requests but never answer them")
    parser.add_argument("--namespace", action="append", default=[],
                        metavar="NAME[=ENFORCE]",
                        help="a namespace, with its pod-security enforce label if given")
    parser.add_argument("--raw-label", action="append", default=[],
                        metavar="NAME=KEY=VALUE", help="another label of a namespace")
    args = parser.parse_args()

    namespaces = {}
    for spec in args.namespace:
        name, _, enforce = spec.partition("=")
        namespaces[name] = {"pod-security.kubernetes.io/enforce": enforce} if enforce else {}
    for spec in args.raw_label:
        name, key, value = spec.split("=", 2)
        namespaces.setdefault(name, {})[key] = value
    log_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def send_json(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authenticated(self):
            if self.connection.getpeercert():
                return "cert"
            auth = self.headers.get("Authorization", "")
            if args.token and auth == "Bearer " + args.token:
                return "token"
            return None

        def do_GET(self):
            who = self.authenticated()
            if args.log:
                with log_lock, open(args.log, "a", encoding="utf-8") as log:
                    log.write(f"GET {self.path} {who or 'none'}\n")
            if args.hang:
                time.sleep(3600)
                return
            if who is None:
                self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
                return
            if not self.path.startswith(PREFIX) or "/" in self.path[len(PREFIX):]:
                self.send_json(404, status(404, "NotFound", "the server could not find the "
                                           "requested resource"))
                return
            name = self.path[len(PREFIX):]
            if name not in namespaces:
                self.send_json(404, status(404, "NotFound", f'namespaces "{name}" not found',
                                           {"name": name, "kind": "namespaces"}))
                return
            self.send_json(200, namespace(name, namespaces[name]))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.load_verify_locations(args.client_ca)
    # Optional: a token is the other way in.
    context.verify_mode = ssl.CERT_OPTIONAL

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, addr = super().get_request()
            # The handshake happens in the request's thread, not in accept().
            return context.wrap_socket(sock, server_side=True,
                                       do_handshake_on_connect=False), addr

        def handle_error(self, request, client_address):
            pass  # a client that gave up (a timeout test) is no error

    server = Server(("127.0.0.1", args.port), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
