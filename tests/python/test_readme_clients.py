"""The TLS clients of bindings/README.md, run as written against Python's
http.server + ssl (which closes without close_notify): each prints the
whole response and exits cleanly (issue 13)."""
import http.server
import os
import pathlib
import re
import ssl
import subprocess
import sys
import threading

import pytest

import netsocket

ROOT = pathlib.Path(__file__).resolve().parents[2]
# build/bindings: named by ctest (NS_BINDINGS_DIR), as the package rerun
# imports netsocket from a venv; else found from the module's place.
BUILD = pathlib.Path(os.environ.get("NS_BINDINGS_DIR") or
                     pathlib.Path(netsocket.__file__).resolve().parents[2])


def readme_client(lang):
    text = (ROOT / "bindings" / "README.md").read_text()
    blocks = re.findall(r"```%s\n(.*?)```" % lang, text, re.S)
    assert blocks, "no %s block in bindings/README.md" % lang
    return blocks[0]


class Handler(http.server.BaseHTTPRequestHandler):
    body = b"netsocket README client\n" * 2000  # several TLS records

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def https_server(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))
    ctx.set_alpn_protocols(["http/1.1"])
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def command(lang, script):
    env = dict(os.environ)
    if lang == "python":
        return [sys.executable, script], env
    if lang == "ruby":
        return ["ruby", "-I", str(BUILD / "ruby"), script], env
    env["LUA_CPATH"] = "%s/?.so;;" % (BUILD / "lua")
    env["LUA_PATH"] = "%s/?.lua;;" % (BUILD / "lua")
    return ["lua5.4", script], env


@pytest.mark.parametrize("lang, ext", [("python", "py"), ("ruby", "rb"), ("lua", "lua")])
def test_readme_client_against_http_server(certs, https_server, tmp_path, lang, ext):
    if lang != "python" and not (BUILD / lang).is_dir():
        pytest.skip("the %s binding is not built" % lang)
    script = tmp_path / ("client." + ext)
    script.write_text(readme_client(lang))
    argv, env = command(lang, str(script))
    r = subprocess.run(argv + ["localhost", str(https_server), certs.path("ca.pem")], env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n"), r.stdout[:200]
    assert body == Handler.body
    assert re.fullmatch(rb"TLSv1\.3 TLS_[A-Z0-9_]+ http/1\.1\n", r.stderr), r.stderr
