"""Telling a free port from a taken one, with real sockets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest

from wirewatch.errors import LocalServiceError
from wirewatch.services import control
from wirewatch.services.endpoints import answers, listener, port_taken
from wirewatch.settings import Settings


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_listening_socket_makes_its_port_taken(listening: socket.socket):
    port = listening.getsockname()[1]
    assert port_taken("127.0.0.1", port)
    assert answers("127.0.0.1", port)


def test_a_closed_port_is_free():
    port = free_port()
    assert not port_taken("127.0.0.1", port)
    assert not answers("127.0.0.1", port, timeout=0.5)


def test_a_listener_on_all_interfaces_takes_the_loopback_port_too():
    with socket.socket() as server:
        server.bind(("0.0.0.0", 0))
        server.listen()
        assert port_taken("127.0.0.1", server.getsockname()[1])


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_a_port_is_free_again_once_its_listener_is_closed_despite_time_wait():
    with socket.socket() as server:
        # As Kafka's and Elasticsearch's listeners do (the JDK sets it on Linux);
        # a lingering connection then does not block the next start.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, so its end lingers in TIME_WAIT
        client.close()
    assert "TIME-WAIT" in subprocess.run(["ss", "-tanH", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert not port_taken("127.0.0.1", port)


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_the_program_holding_a_port_is_named(listening: socket.socket):
    assert f"pid {os.getpid()}" in (listener(listening.getsockname()[1]) or "")


def test_up_refuses_clearly_when_a_port_of_the_service_is_taken(listening: socket.socket, tmp_path):
    taken = listening.getsockname()[1]
    # The broker port is free but the controller port (broker + 1) is ours.
    settings = Settings(home=tmp_path, kafka_bootstrap=f"127.0.0.1:{taken - 1}")
    with pytest.raises(LocalServiceError) as caught:
        control.up(settings, ("kafka",))
    message = str(caught.value)
    assert f"port {taken} (controller" in message
    assert "WIREWATCH_KAFKA_BOOTSTRAP" in message
    # It stopped before fetching or starting anything.
    assert not (tmp_path / "kafka").exists() and not (tmp_path / "run").exists()


def test_up_refuses_an_address_that_is_not_this_machine(tmp_path):
    settings = Settings(home=tmp_path, es_url="http://search.example.org:9200")
    with pytest.raises(LocalServiceError, match="WIREWATCH_ES_URL names search.example.org:9200"):
        control.up(settings, ("elasticsearch",))
