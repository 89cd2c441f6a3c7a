"""Real node processes for the tests: ``covenant node init``, ``node start``, ``contract
deploy``, stopping and starting again on the same directory."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from covenant_sdk import Client, CovenantError, Profile


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 just now (the kernel picks them)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Node:
    """One node of a fresh chain in ``directory``, run as a subprocess of the tests."""

    def __init__(self, binary: str, directory: Path, suite: str) -> None:
        self.binary = binary
        self.dir = directory
        self.suite = suite
        self.log = directory.parent / f"{directory.name}.log"
        self.proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self.kv_keys: list[str] = []

    # ------------------------------------------------------------------------------- running

    def run_cli(self, *args: str, timeout: float = 120) -> Any:
        """A ``covenant`` command with ``-o json`` on this node's profile; its JSON output."""
        env = {**os.environ, "COVENANT_PROFILE": str(self.profile_path)}
        done = subprocess.run(
            [self.binary, *args, "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"covenant {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return json.loads(done.stdout)

    def init(self) -> None:
        api, grpc = free_ports(2)
        self.run_cli(
            "node", "init", "--dir", str(self.dir), "--api-port", str(api),
            "--grpc-port", str(grpc), "--suite", self.suite, "--orgs", "2",
        )  # fmt: skip

    @property
    def profile_path(self) -> Path:
        return self.dir / "profile.json"

    def profile(self) -> Profile:
        return Profile.load(self.profile_path)

    def client(self) -> Client:
        return self.profile().client(timeout=60)

    def start(self, timeout: float = 120) -> None:
        """Start the node and return once it serves (its first line, then ``/healthz``)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log: IO[str] = open(self.log, "a", encoding="utf-8")
        try:
            self.proc = subprocess.Popen(
                [self.binary, "node", "start", "--dir", str(self.dir), "-o", "json"],
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        finally:
            log.close()
        self._lines = queue.Queue()
        self._reader = threading.Thread(
            target=self._read, args=(self.proc, self._lines), daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + timeout
        try:
            first = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the node printed nothing in {timeout} s\n{self.log_tail()}")
        if first is None:
            raise AssertionError(f"the node exited before serving\n{self.log_tail()}")
        started = json.loads(first)
        if "error" in started:
            raise AssertionError(f"the node did not start: {started}\n{self.log_tail()}")
        assert started["chains"], started
        client = self.client()
        while True:
            try:
                client.health()
                return
            except CovenantError as e:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no /healthz answer: {e}\n{self.log_tail()}") from e
            if self.proc.poll() is not None:
                raise AssertionError(f"the node exited\n{self.log_tail()}")
            time.sleep(0.05)

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, and wait for the process to end (killed if it does not)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the node did not stop on SIGTERM\n{self.log_tail()}")
        self._release()

    def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._release()

    def _release(self) -> None:
        """Once the process has ended: its output reader finishes, its pipe is closed."""
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            return f"(no log: {e})"
        return f"--- {self.log} (last {lines} lines) ---\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    def deploy(self, name: str, wasm: str) -> None:
        out = self.run_cli("contract", "deploy", name, wasm)
        assert out["code"] == "OK", out
