#!/usr/bin/env python3
"""A small HTTP proxy between pcap-recorder-shipd and the test's S3 server that injects faults.

It forwards every request unchanged (the Host header included, so SigV4 signatures still match on
the server) and logs one line per request it saw, for the tests to count:
    SECONDS METHOD PATH?QUERY STATUS
Faults, each optional:
  --fail-first N    the first N attempts of every distinct request (method, path and query) are
                    answered 503 ServiceUnavailable or SlowDown without reaching the server, so
                    every kind of request (PUT, parts, create, complete, HEAD) must be retried.
  --delay S         every request waits S seconds before it is forwarded (a slow server).
  --part-delay S    part uploads (PUT with partNumber) wait S seconds (a slow multipart upload,
                    so a test can kill the shipper in the middle of one).
  --deny-abort      AbortMultipartUpload (DELETE with uploadId) is answered 403 AccessDenied
                    without reaching the server: credentials without s3:AbortMultipartUpload.
usage: s3_fault_proxy.py --upstream http://127.0.0.1:PORT --port-file FILE --log FILE [faults]
Prints nothing; writes its port to FILE once it listens. Ends on SIGTERM.
"""
import argparse
import http.client
import http.server
import os
import signal
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "te", "upgrade",
              "proxy-connection"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--part-delay", type=float, default=0.0)
    parser.add_argument("--deny-abort", action="store_true")
    args = parser.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)
    lock = threading.Lock()
    attempts = {}
    log = open(args.log, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as curl expects

        def log_message(self, *unused):  # our own log only
            pass

        def record(self, status):
            with lock:
                log.write(f"{time.time():.3f} {self.command} {self.path} {status}\n")

        def read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length", "0"))
            return self.rfile.read(length) if length else b""

        def answer(self, status, headers, body, send_body=True):
            self.send_response_only(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if send_body and body:
                self.wfile.write(body)
            self.wfile.flush()

        def handle_any(self):
            body = self.read_body()
            request = (self.command, self.path)
            with lock:
                attempts[request] = attempts.get(request, 0) + 1
                attempt = attempts[request]
            if attempt <= args.fail_first:
                code = "SlowDown" if attempt % 2 == 0 else "ServiceUnavailable"
                error = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                         f"<Message>injected by the test's proxy</Message></Error>").encode()
                self.record(503)
                self.answer(503, [("Content-Type", "application/xml"),
                                  ("Content-Length", str(len(error)))], error,
                            self.command != "HEAD")
                return
            if args.deny_abort and self.command == "DELETE" and "uploadId=" in self.path:
                error = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied"
                         b"</Code><Message>injected by the test's proxy</Message></Error>")
                self.record(403)
                self.answer(403, [("Content-Type", "application/xml"),
                                  ("Content-Length", str(len(error)))], error)
                return
            delay = args.delay
            if self.command == "PUT" and "partNumber=" in self.path:
                delay += args.part_delay
            if delay > 0:
                time.sleep(delay)
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
            try:
                connection.putrequest(self.command, self.path, skip_host=True,
                                      skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        connection.putheader(name, value)
                if body or self.command in ("PUT", "POST"):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body if body else None)
                response = connection.getresponse()
                content = response.read()
                headers = [(n, v) for n, v in response.getheaders()
                           if n.lower() not in HOP_BY_HOP and n.lower() != "content-length"]
                # HEAD: the object's length, with no body.
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                headers.append(("Content-Length", length if length is not None else
                                str(len(content))))
                self.record(response.status)
                self.answer(response.status, headers, content, self.command != "HEAD")
            finally:
                connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *unused: sys.exit(0))
    with open(args.port_file + ".tmp", "w") as port_file:
        port_file.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
