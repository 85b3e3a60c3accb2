"""Servers the SQS benchmarks talk to: ``streamcore serve``, a stub that
answers every call at once with a canned response (the client's own
ceiling), and the peers a user would pick instead (moto_server, LocalStack,
ElasticMQ) when they can be started here.  Each start returns a base URL or
raises ``Unavailable`` with the reason, so a peer is reported, never dropped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator


class Unavailable(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise Unavailable(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def streamcore_server(*extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    data = tempfile.mkdtemp(prefix="sqs-bench-")
    proc = subprocess.Popen([sys.executable, "-m", "streamcore", "serve", "--data", data,
                             "--sqs", "127.0.0.1:0", "--no-kafka", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            raise Unavailable(f"streamcore serve did not start: {line!r}")
        yield line.rsplit(" ", 1)[1].strip(), proc
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


# ------------------------------------------------------------------ stub

_MSG = {"MessageId": "00000000-0000-4000-8000-000000000000", "ReceiptHandle": "h" * 50,
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592", "Body": "x" * 256}
_CANNED = {
    "CreateQueue": {"QueueUrl": "http://127.0.0.1/queue/us-east-1/000000000000/q"},
    "SendMessage": {"MD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592",
                    "MessageId": "00000000-0000-4000-8000-000000000000"},
    "SendMessageBatch": {"Successful": [
        {"Id": str(i), "MessageId": "00000000-0000-4000-8000-000000000000",
         "MD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592"} for i in range(10)],
        "Failed": []},
    "ReceiveMessage": {"Messages": [_MSG] * 10},
    "DeleteMessageBatch": {"Successful": [{"Id": str(i)} for i in range(10)], "Failed": []},
}


class _Stub(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        import httptools

        self.t = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.p = httptools.HttpRequestParser(self)
        self.target = ""

    def data_received(self, data: bytes) -> None:
        self.p.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-amz-target":
            self.target = value.decode().split(".", 1)[1]

    def on_message_complete(self) -> None:
        body = json.dumps(_CANNED.get(self.target, {})).encode()
        self.t.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"  # type: ignore[attr-defined]
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _run_stub(port: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(_Stub, "127.0.0.1", port))
    print("ready", flush=True)
    loop.run_forever()


@contextlib.contextmanager
def stub_server() -> Iterator[str]:
    """The stub in its own process (in the client's it would share its GIL)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--stub", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


# ------------------------------------------------------------------ peers


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    exe = shutil.which("moto_server")
    if exe is None:
        raise Unavailable("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen([exe, "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


@contextlib.contextmanager
def localstack_server() -> Iterator[str]:
    """LocalStack's SQS without Docker: ``localstack-core`` in this interpreter, or
    in the one LOCALSTACK_PYTHON names (its dependencies pin versions of botocore
    and moto of their own, so it is best kept in an environment of its own)."""
    python = os.environ.get("LOCALSTACK_PYTHON", sys.executable)
    probe = subprocess.run([python, "-c", "import localstack.runtime.main"],
                           capture_output=True)
    if probe.returncode != 0:
        raise Unavailable("localstack-core is not installed (pip install 'localstack-core"
                          "[runtime]', or set LOCALSTACK_PYTHON)")
    port = free_port()
    env = dict(os.environ, GATEWAY_LISTEN=f"127.0.0.1:{port}", SERVICES="sqs",
               LOCALSTACK_HOST=f"127.0.0.1:{port}")
    proc = subprocess.Popen([python, "-m", "localstack.runtime.main"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/_localstack/health", timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(60)


ELASTICMQ_VERSION = os.environ.get("ELASTICMQ_VERSION", "1.7.1")
CACHE = os.environ.get("STREAMCORE_BENCH_CACHE",
                       os.path.join(os.path.expanduser("~"), ".cache", "streamcore-bench"))


def elasticmq_classpath() -> str:
    """ElasticMQ's server and its runtime jars, fetched from Maven Central once
    (ELASTICMQ_JAR, a released fat jar, is used instead when it is set)."""
    jar = os.environ.get("ELASTICMQ_JAR")
    if jar:
        if not os.path.exists(jar):
            raise Unavailable(f"ELASTICMQ_JAR={jar} does not exist")
        return jar
    if shutil.which("mvn") is None:
        raise Unavailable("ElasticMQ needs Maven to fetch its jars (or ELASTICMQ_JAR)")
    jars = os.path.join(CACHE, f"elasticmq-{ELASTICMQ_VERSION}")
    have = os.path.isdir(jars) and any(n.startswith("elasticmq-server") for n in os.listdir(jars))
    if not have:
        os.makedirs(jars, exist_ok=True)
        pom = os.path.join(CACHE, f"elasticmq-pom-{ELASTICMQ_VERSION}.xml")
        with open(pom, "w") as f:
            f.write(f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>elasticmq-bench</artifactId><version>1</version>
  <dependencies><dependency><groupId>org.elasticmq</groupId>
    <artifactId>elasticmq-server_2.13</artifactId><version>{ELASTICMQ_VERSION}</version>
  </dependency></dependencies>
</project>
""")
        proc = subprocess.run(["mvn", "-q", "dependency:copy-dependencies", "-f", pom,
                               f"-DoutputDirectory={jars}", "-DincludeScope=runtime"],
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise Unavailable(f"could not fetch elasticmq-server {ELASTICMQ_VERSION} with "
                              f"Maven: {proc.stdout[-300:]}")
        # copy-dependencies leaves out the artifact itself: fetch it beside them
        proc = subprocess.run(["mvn", "-q", "dependency:copy",
                               f"-Dartifact=org.elasticmq:elasticmq-server_2.13:{ELASTICMQ_VERSION}",
                               f"-DoutputDirectory={jars}"],
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise Unavailable(f"could not fetch elasticmq-server {ELASTICMQ_VERSION}: "
                              f"{proc.stdout[-300:]}")
    return os.path.join(jars, "*")


@contextlib.contextmanager
def elasticmq_server() -> Iterator[str]:
    java = shutil.which("java")
    if java is None:
        raise Unavailable("ElasticMQ needs java")
    cp = elasticmq_classpath()
    port = free_port()
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write(f'include classpath("application.conf")\nrest-sqs.bind-port = {port}\n'
               f'node-address.port = {port}\n')
    conf.close()
    launch = ["-jar", cp] if cp.endswith(".jar") else ["-cp", cp, "org.elasticmq.server.Main"]
    proc = subprocess.Popen([java, "-Xmx1g", f"-Dconfig.file={conf.name}", *launch],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        os.unlink(conf.name)


PEERS = {"moto_server": moto_server, "LocalStack": localstack_server,
         "ElasticMQ": elasticmq_server}


if __name__ == "__main__" and sys.argv[1:2] == ["--stub"]:
    _run_stub(int(sys.argv[2]))
