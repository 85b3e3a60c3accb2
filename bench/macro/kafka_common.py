"""Shared by the Kafka macro benchmarks: the brokers under test, and measuring them.

``StreamcoreServer`` runs ``streamcore serve --kafka 127.0.0.1:0`` on a fresh
data directory.  ``ApacheKafka`` fetches ``org.apache.kafka:kafka_2.13`` and
its runtime jars with Maven into a cache (``~/.cache/streamcore-bench``),
formats and starts a single-node KRaft broker on loopback (small heap,
replication factors 1) and stops it; when Java or Maven is missing, or the
fetch fails, ``ApacheKafka.available()`` says why and the benchmarks report
the streamcore side alone.  Every figure a script prints is measured in the
same run, side by side, on this machine.
"""

from __future__ import annotations

import json
import os
import platform
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.1.0")
CACHE = Path(os.environ.get("STREAMCORE_BENCH_CACHE", Path.home() / ".cache" / "streamcore-bench"))


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "kernel": platform.release(),
            "loadavg": os.getloadavg()}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def report(name: str, rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"benchmark": name, "machine": machine(), "rows": rows}))
        return
    print(f"# {name}  ({machine()['cpu']}, {machine()['cores']} cores)")
    for r in rows:
        print("  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in r.items()))


class StreamcoreServer:
    name = "streamcore"

    def __init__(self, *args: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sc-bench-"))
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.bootstrap = ""

    def __enter__(self) -> StreamcoreServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamcore", "serve", "--data", str(self.dir / "data"),
             "--kafka", "127.0.0.1:0", "--no-sqs", *self.args],
            stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        if not ready:
            raise RuntimeError("streamcore serve did not start")
        line = self.proc.stdout.readline().strip()
        self.bootstrap = line.rsplit(" ", 1)[-1]
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(60)
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApacheKafka:
    """A single-node KRaft Apache Kafka on loopback, from jars fetched with Maven."""

    name = "apache-kafka"

    @staticmethod
    def classpath() -> Path:
        return CACHE / f"kafka-{KAFKA_VERSION}"

    @classmethod
    def available(cls) -> str | None:
        """None when it can run, else why not."""
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        jars = cls.classpath()
        if jars.is_dir() and any(jars.glob("kafka_2.13-*.jar")):
            return None
        jars.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["mvn", "-q", "dependency:copy-dependencies",
             "-f", str(cls._pom(jars)), f"-DoutputDirectory={jars}",
             "-DincludeScope=runtime"],
            capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0 or not any(jars.glob("kafka_2.13-*.jar")):
            return f"could not fetch kafka_2.13 {KAFKA_VERSION} with Maven: {proc.stdout[-500:]}"
        return None

    @staticmethod
    def _pom(jars: Path) -> Path:
        pom = jars.parent / f"pom-{KAFKA_VERSION}.xml"
        pom.write_text(f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>kafka-bench</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies>
</project>
""")
        return pom

    def __init__(self, heap: str = "1g") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
        self.heap = heap
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"

    def _java(self, main: str, *args: str) -> list[str]:
        return ["java", f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
                f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
                "-cp", f"{self.classpath()}/*", main, *args]

    def __enter__(self) -> ApacheKafka:
        controller = _free_port()
        props = self.dir / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.dir / 'logs'}", "num.partitions=1",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0", "",
        ]))
        (self.dir / "log4j.properties").write_text(
            "log4j.rootLogger=WARN, stderr\n"
            "log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stderr.Target=System.err\n"
            "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n")
        subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t",
                                  uuid.uuid4().hex[:22], "-c", str(props), "--standalone"),
                       check=True, capture_output=True, timeout=300)
        self.proc = subprocess.Popen(self._java("kafka.Kafka", str(props)),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                time.sleep(2)  # the broker registers itself after it listens
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("Apache Kafka did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def brokers(with_kafka: bool) -> list[type[Any]]:
    """The brokers to measure: streamcore, and Apache Kafka when asked and available."""
    out: list[type[Any]] = [StreamcoreServer]
    if with_kafka:
        why = ApacheKafka.available()
        if why is None:
            out.append(ApacheKafka)
        else:
            print(f"# Apache Kafka skipped: {why}", file=sys.stderr)
    return out


def create_topic(bootstrap: str, name: str, partitions: int = 1, **config: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1, config=config)])[name].result(60)
