"""Start a real VisualDL server on 127.0.0.1 for a test and read its HTTP API."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VisualDLServer:
    def __init__(self, logdir: str):
        self.logdir = os.path.abspath(logdir)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        exe = os.path.join(os.path.dirname(sys.executable), "visualdl")
        self.proc = subprocess.Popen([exe, "--logdir", self.logdir, "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/alive", timeout=2) as r:
                    if r.status in (200, 204):
                        return
            except OSError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                raise RuntimeError("visualdl exited at start-up")
        self.close()
        raise RuntimeError("visualdl did not come up within 60 s")

    def get(self, route: str, **params) -> bytes:
        url = f"{self.base}/app/api/{route}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read()

    def json(self, route: str, **params):
        """The ``data`` of VisualDL's ``{status, msg, data}`` answer."""
        body = json.loads(self.get(route, **params))
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
